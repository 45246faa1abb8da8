import assert from "node:assert/strict";
import { parseCsv, toCsv, writeCsvAtomic } from "../lib/io/csv.ts";
import { writeFileAtomic } from "../lib/io/atomic.ts";

const TRICKY = [
  "plain",
  "a,b",
  'say "hi"',
  "line1\nline2",
  "cr\rlf\r\n",
  "  padded  ",
  "",
  "ünïcødé — 学习",
  '"',
  ",",
];

Deno.test("toCsv quotes per RFC 4180 and parseCsv inverts it", () => {
  const rows = TRICKY.map((s, i) => ({ id: i, text: s, other: `${s}|${i}` }));
  const text = toCsv(rows, ["id", "text", "other"]);
  assert.ok(text.startsWith("id,text,other\n"));
  assert.ok(text.includes('"a,b"'));
  assert.ok(text.includes('"say ""hi"""'));
  const back = parseCsv(text);
  assert.deepEqual(back, rows.map((r) => ({ id: String(r.id), text: r.text, other: r.other })));
});

Deno.test("toCsv: numbers round-trip exactly, nulls empty, only listed columns, in order", () => {
  const nums = [0.1 + 0.2, 1e-300, -123456789.125, 2 ** 53, Math.PI, 5e-324];
  const rows = nums.map((x) => ({ x, extra: "ignored", flag: x > 0, none: null }));
  const text = toCsv(rows, ["flag", "x", "none", "missing"]);
  assert.equal(text.split("\n")[0], "flag,x,none,missing");
  const back = parseCsv(text);
  assert.equal(back.length, nums.length);
  back.forEach((r, i) => {
    assert.equal(Number(r.x), nums[i]);
    assert.equal(r.flag, String(nums[i] > 0));
    assert.equal(r.none, "");
    assert.equal(r.missing, "");
    assert.equal("extra" in r, false);
  });
  assert.equal(
    toCsv([{ d: new Date(0), o: { a: [1] } }], ["d", "o"]).split("\n")[1],
    '1970-01-01T00:00:00.000Z,"{""a"":[1]}"',
  );
});

Deno.test("single-column empty values survive (not read back as blank lines)", () => {
  const rows = [{ v: "" }, { v: "x" }, { v: null }, { v: "" }];
  assert.deepEqual(parseCsv(toCsv(rows, ["v"])), [{ v: "" }, { v: "x" }, { v: "" }, { v: "" }]);
});

Deno.test("parseCsv: BOM, CRLF, header only, ragged rows and bad columns rejected", () => {
  assert.deepEqual(parseCsv("\ufeffa,b\r\n1,2\r\n"), [{ a: "1", b: "2" }]);
  assert.deepEqual(parseCsv("a,b\n"), []);
  assert.deepEqual(parseCsv(""), []);
  assert.throws(() => parseCsv("a,b\n1,2,3\n"));
  assert.throws(() => parseCsv("a,a\n1,2\n"), /columns: duplicate column name "a"/);
  assert.throws(() => toCsv([], []), /columns: must be a non-empty array/);
  assert.throws(() => toCsv([], ["a", "a"]), /columns: duplicate column name "a"/);
  assert.throws(() => toCsv([null as never], ["a"]), /rows\[0\]: must be an object/);
});

Deno.test("writeCsvAtomic writes, overwrites, and leaves no temp files", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/nested/results.csv`;
    const rows = TRICKY.map((s, i) => ({ run: i, note: s }));
    await writeCsvAtomic(path, rows, ["run", "note"]);
    assert.deepEqual(
      parseCsv(await Deno.readTextFile(path)),
      rows.map((r) => ({ run: String(r.run), note: r.note })),
    );
    await writeCsvAtomic(path, [{ run: 99, note: "second" }], ["run", "note"]);
    assert.equal(await Deno.readTextFile(path), "run,note\n99,second\n");
    assert.deepEqual([...Deno.readDirSync(`${dir}/nested`)].map((e) => e.name), ["results.csv"]);

    // A failing rename (target is a directory) throws and removes the temp file.
    await Deno.mkdir(`${dir}/blocked.csv`);
    await assert.rejects(() => writeCsvAtomic(`${dir}/blocked.csv`, rows, ["run", "note"]));
    const left = [...Deno.readDirSync(dir)].map((e) => e.name).sort();
    assert.deepEqual(left, ["blocked.csv", "nested"]);
    await assert.rejects(() => writeFileAtomic("", "x"), /path: must be a file path/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("readers and a killed writer never see a partial CSV", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/big.csv`;
    const lib = new URL("../lib/io/csv.ts", import.meta.url).href;
    const N = 20000;
    // The child rewrites a ~1.5 MB CSV in a loop; every version has the same byte length (the
    // generation is zero-padded), so any other length seen by a reader is a torn file.
    const script = `
      import { writeCsvAtomic } from ${JSON.stringify(lib)};
      const rows = Array.from({ length: ${N} }, (_, i) => ({ i: String(i).padStart(6, "0"), pad: "x".repeat(60), gen: "" }));
      for (let gen = 0; ; gen++) {
        for (const r of rows) r.gen = String(gen).padStart(6, "0");
        await writeCsvAtomic(${JSON.stringify(path)}, rows, ["i", "pad", "gen"]);
        console.log(gen);
      }`;
    const child = new Deno.Command(Deno.execPath(), {
      args: ["eval", "--quiet", script],
      cwd: new URL("..", import.meta.url).pathname, // so deno.json's import map applies
      stdout: "piped",
      stderr: "null",
    }).spawn();
    const reader = child.stdout.getReader();
    let seen = "";
    while (!seen.includes("\n")) {
      const { value, done } = await reader.read();
      if (done) throw new Error("writer exited before its first write");
      seen += new TextDecoder().decode(value);
    }
    const size = (await Deno.readFile(path)).length;
    assert.equal(size, "i,pad,gen\n".length + N * (6 + 1 + 60 + 1 + 6 + 1));
    // Read as fast as possible while the writer keeps replacing the file.
    let reads = 0;
    let torn = 0;
    const until = Date.now() + 600;
    while (Date.now() < until) {
      const bytes = await Deno.readFile(path);
      reads++;
      if (bytes.length !== size || bytes[size - 1] !== 10) torn++;
    }
    child.kill("SIGKILL");
    reader.releaseLock();
    await child.stdout.cancel().catch(() => {});
    await child.status;
    assert.ok(reads > 50, `only ${reads} reads`);
    assert.equal(torn, 0, `${torn} of ${reads} reads saw a partial file`);
    const rows = parseCsv(await Deno.readTextFile(path));
    assert.equal(rows.length, N);
    assert.ok(rows.every((r) => r.gen === rows[0].gen), "one whole generation, never a mix");
    // Whatever the kill left behind is only a git-ignored temp file beside the target.
    for (const e of Deno.readDirSync(dir)) {
      assert.ok(e.name === "big.csv" || e.name.endsWith(".tmp"), e.name);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
