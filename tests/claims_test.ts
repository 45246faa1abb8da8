/**
 * Several workers on one output folder: claims (lib/sweep/claims.ts) with real processes
 * (tests/support/fake_sweep.ts), one of them SIGKILLed mid-run, and the stale-claim rules.
 */
import assert from "node:assert/strict";
import { Claims, claimsDir, ownerTag } from "../lib/sweep/claims.ts";
import { readRecords, writeRecord } from "../lib/sweep/records.ts";
import { runId } from "../lib/sweep/runid.ts";
import { parseCsv } from "../lib/io/csv.ts";
import { FAKE_VERSIONS, fakeResult, makeRuns } from "./support/fake_sweep.ts";
import { withTempDir as withTemp } from "./support/temp.ts";

const FAKE_SWEEP = new URL("./support/fake_sweep.ts", import.meta.url).pathname;

const withTempDir = (fn: (dir: string) => Promise<void>) => withTemp("claims-test-", fn);

async function lines(path: string): Promise<string[]> {
  try {
    return (await Deno.readTextFile(path)).split("\n").filter((l) => l !== "");
  } catch {
    return [];
  }
}

Deno.test("3 workers on one folder split the runs; one SIGKILLed mid-run is taken over", async () => {
  await withTempDir(async (dir) => {
    const out = `${dir}/fake`;
    const N = 12;
    const spawn = (i: number) =>
      new Deno.Command(Deno.execPath(), {
        args: [
          "run",
          "--allow-read",
          "--allow-write",
          "--allow-env",
          "--allow-run",
          FAKE_SWEEP,
          out,
          ...["--runs", String(N), "--delay", "400", "--poll", "100", "--log", `${dir}/log${i}`],
        ],
        stdout: "null",
        stderr: "piped",
      }).spawn();
    const workers = [0, 1, 2].map(spawn);
    // Kill worker 0 while it trains its second run (its first is recorded).
    const end = Date.now() + 30_000;
    while ((await lines(`${dir}/log0`)).filter((l) => l.startsWith("start")).length < 2) {
      if (Date.now() > end) throw new Error("worker 0 never started a second run");
      await new Promise((r) => setTimeout(r, 10));
    }
    workers[0].kill("SIGKILL");
    assert.equal((await workers[0].status).signal, "SIGKILL");
    await workers[0].stderr.cancel();
    const errs = await Promise.all(workers.slice(1).map((w) => new Response(w.stderr).text()));
    const codes = await Promise.all(workers.slice(1).map((w) => w.status));
    for (const [i, c] of codes.entries()) assert.equal(c.code, 0, errs[i]);

    const logs = await Promise.all([0, 1, 2].map((i) => lines(`${dir}/log${i}`)));
    const all = logs.flat();
    const ids = new Set(makeRuns(N).map(runId));
    // Every run finished exactly once, by someone.
    const ended = all.filter((l) => l.startsWith("end ")).map((l) => l.slice(4));
    assert.deepEqual(ended.length, N, all.join("\n"));
    assert.deepEqual(new Set(ended), ids);
    // The killed worker's unfinished run was started twice (by it, then by a taker); no other
    // run was started more than once, so no finished run was redone.
    const killedRun = logs[0].filter((l) => l.startsWith("start ")).map((l) => l.slice(6))
      .find((id) => !logs[0].includes(`end ${id}`))!;
    assert.ok(killedRun, logs[0].join("\n"));
    const starts = all.filter((l) => l.startsWith("start ")).map((l) => l.slice(6));
    assert.equal(starts.length, N + 1, starts.join("\n"));
    assert.equal(starts.filter((id) => id === killedRun).length, 2);
    assert.ok(!logs[0].includes(`end ${killedRun}`));
    assert.match(
      errs.join("\n"),
      new RegExp(`taking over run ${killedRun}: process \\d+ on .* is gone`),
    );
    // Both survivors did some of the work; the records and tables are complete.
    assert.ok(
      logs[1].some((l) => l.startsWith("end ")) && logs[2].some((l) => l.startsWith("end ")),
    );
    const scan = await readRecords(out);
    assert.equal(scan.records.length, N);
    assert.equal(parseCsv(await Deno.readTextFile(`${out}/results.csv`)).length, N);
    assert.deepEqual([...Deno.readDirSync(claimsDir(out))].map((e) => e.name), []);
  });
});

Deno.test("claims: live, stale by heartbeat, by dead pid, by a restarted owner; done runs", async () => {
  await withTempDir(async (dir) => {
    const [a, b, c] = makeRuns(3);
    const [ia, ib, ic] = [a, b, c].map(runId);
    const w1 = new Claims(dir, { host: "node1", pid: Deno.pid, owner: "slurm:7_1" });
    assert.equal(await w1.claim(ia), "mine");
    // Another host sees a live claim: busy, until its heartbeat is older than staleAfterMs.
    const w2 = new Claims(dir, { host: "node2", pid: 4242, staleAfterMs: 60_000 });
    assert.equal(await w2.claim(ia), "busy");
    const old = new Date(Date.now() - 120_000);
    await Deno.utime(`${claimsDir(dir)}/${ia}.json`, old, old);
    const why: string[] = [];
    assert.equal(await w2.claim(ia, (w) => why.push(w)), "mine");
    assert.match(why[0], /^no heartbeat for 1[12]\d s$/);
    // The old holder's heartbeat and release leave the new claim alone.
    w1.beat();
    await w1.release(ia);
    const info = JSON.parse(await Deno.readTextFile(`${claimsDir(dir)}/${ia}.json`));
    assert.deepEqual([info.host, info.pid], ["node2", 4242]);

    // Same host, dead pid: stale at once.
    const dead = new Deno.Command("true").spawn();
    const deadPid = dead.pid;
    await dead.status;
    const ghost = new Claims(dir, { host: "node1", pid: deadPid });
    assert.equal(await ghost.claim(ib), "mine");
    const w3 = new Claims(dir, { host: "node1", pid: Deno.pid });
    assert.equal(await w3.claim(ib, (w) => why.push(w)), "mine");
    assert.equal(why[1], `process ${deadPid} on node1 is gone`);

    // A requeued Slurm task (same owner tag, new pid, maybe another node) takes its claim back.
    const before = new Claims(dir, { host: "node3", pid: 1, owner: "slurm:9_2" });
    assert.equal(await before.claim(ic), "mine");
    const after = new Claims(dir, { host: "node4", pid: 2, owner: "slurm:9_2" });
    assert.equal(await after.claim(ic, (w) => why.push(w)), "mine");
    assert.equal(why[2], "its worker slurm:9_2 restarted");

    // A run with a record is done, never claimed again.
    const result = fakeResult(c);
    await writeRecord(dir, {
      run_id: ic,
      config: c,
      result,
      versions: FAKE_VERSIONS,
      finished_at: new Date().toISOString(),
    });
    await after.release(ic);
    assert.equal(await w3.claim(ic), "done");
    assert.deepEqual(
      [...Deno.readDirSync(claimsDir(dir))].map((e) => e.name).sort(),
      [`${ia}.json`, `${ib}.json`].sort(),
    );
  });
});

Deno.test("ownerTag: Slurm array task, Slurm job, Kubernetes indexed pod, none", () => {
  const env = (o: Record<string, string>) => (k: string) => o[k];
  assert.equal(ownerTag(env({ SLURM_ARRAY_JOB_ID: "7", SLURM_ARRAY_TASK_ID: "2" })), "slurm:7_2");
  assert.equal(ownerTag(env({ SLURM_JOB_ID: "8" })), "slurm:8");
  assert.equal(
    ownerTag(env({ JOB_COMPLETION_INDEX: "1", HOSTNAME: "sweep-1-abc" })),
    "k8s:sweep-1-abc",
  );
  assert.equal(ownerTag(env({})), undefined);
});
