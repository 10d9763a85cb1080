// npm run bench:e2e: what the everyday commands cost on the real engine, against a floor.
// On the e2e toolchain and cluster (e2e/run.sh provides both), times for this program and for a
// floor (e2e/floor.ts: a plain JavaScript program registering the very same Kubernetes objects with
// the same dependsOn edges, generated from what this program declares) the commands of a switch:
//   pulumi up from nothing, pulumi preview of the switch, the switch pulumi up, and a refused
//   pulumi preview (activeColor=purple; the floor throws as its first statement),
// interleaved run by run so drift in machine load hits both alike, and prints the medians and
//   ratios: preview=<ours/floor> up=<ours/floor> switch=<ours/floor> refused=<ours refused/ours preview>
// npm run bench:e2e sets E2E_POD_READY_DELAY_MS=0: no pod-readiness delay stage on the cluster, so
// ours and the floor wait only for what the engine and the provider do.
// A script that prints figures; it fails only when a command does not do what it should.
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { evaluate, useMocks } from "../offline/engine";
import { loadProgram } from "../offline/program";
import { loadStackConfig } from "../offline/stack-files";
import { copyWorkingTree } from "../offline/working-copy";
import { floorProgram } from "./floor";
import { median } from "./harness";

const RUNS = Number(process.env.BENCH_RUNS ?? 5);
const STACK = "bench";
const COMMANDS = ["preview", "up", "switch", "refused"] as const;
type Command = (typeof COMMANDS)[number];
const LABELS: Record<Command, string> = {
    preview: "pulumi preview (switch to green, 1 update)",
    up: "pulumi up --skip-preview from nothing",
    switch: "pulumi up --skip-preview (the switch)",
    refused: "pulumi preview, activeColor=purple (refused)",
};

interface Project {
    label: string;
    dir: string;
    env: NodeJS.ProcessEnv;
}

function project(label: string, dir: string): Project {
    fs.mkdirSync(path.join(dir, ".state"), { recursive: true });
    return {
        label,
        dir,
        env: {
            ...process.env,
            PULUMI_BACKEND_URL: `file://${path.join(dir, ".state")}`,
            PULUMI_CONFIG_PASSPHRASE: process.env.PULUMI_CONFIG_PASSPHRASE ?? "e2e",
            PULUMI_SKIP_UPDATE_CHECK: "true",
            PULUMI_DIY_BACKEND_NO_LEGACY_WARNING: "true",
            NO_COLOR: "1",
        },
    };
}

/** Runs one pulumi command; fails unless it exits as expected. Returns its wall time in ms and its output. */
function pulumi(p: Project, args: string[], expect: "success" | "failure" = "success"): { ms: number; output: string } {
    const start = process.hrtime.bigint();
    const r = spawnSync("pulumi", [...args, "--non-interactive"], { cwd: p.dir, env: p.env, encoding: "utf8", maxBuffer: 64 * 2 ** 20 });
    const ms = Number(process.hrtime.bigint() - start) / 1e6;
    if (r.error) throw r.error;
    const output = `${r.stdout}${r.stderr}`;
    if ((r.status === 0) !== (expect === "success")) {
        throw new Error(`${p.label}: pulumi ${args.join(" ")} exited ${r.status}, expected ${expect}:\n${output.slice(-3000)}`);
    }
    return { ms, output };
}

/**
 * One cycle from an empty stack and back: each command timed once. `refuse` false skips the
 * refused preview (NaN): the floor's, a plain program throwing, is only a reference, and on
 * Node 20.20 it takes half a minute in the runtime's error formatting (nodejs/node#64011).
 */
function cycle(p: Project, refuse = true): Record<Command, number> {
    pulumi(p, ["config", "set", "activeColor", "blue"]);
    const up = pulumi(p, ["up", "--yes", "--skip-preview"]).ms;
    pulumi(p, ["config", "set", "activeColor", "green"]);
    const preview = pulumi(p, ["preview"]);
    if (!/1 to update/.test(preview.output)) throw new Error(`${p.label}: the switch preview does not show one update:\n${preview.output}`);
    const switched = pulumi(p, ["up", "--yes", "--skip-preview"]).ms;
    let refused = NaN;
    if (refuse) {
        pulumi(p, ["config", "set", "activeColor", "purple"]);
        const r = pulumi(p, ["preview"], "failure");
        if (!/activeColor: got "purple"/.test(r.output)) throw new Error(`${p.label}: the refused preview does not name the setting:\n${r.output}`);
        refused = r.ms;
        pulumi(p, ["config", "set", "activeColor", "green"]);
    }
    pulumi(p, ["destroy", "--yes", "--skip-preview"]);
    return { preview: preview.ms, up, switch: switched, refused };
}

async function main(): Promise<void> {
    const kubeconfig = process.env.KUBECONFIG;
    if (!kubeconfig) throw new Error("KUBECONFIG is not set: run through `npm run bench:e2e` (e2e/run.sh), or export the kubeconfig of a cluster with Istio's CRDs");
    const root = path.join(__dirname, "..");

    // Ours: the repository as a user has it, on a stack like the e2e's.
    const ours = project("ours", copyWorkingTree(root, "bluegreen-bench-ours-"));
    // Its own transpile cache, empty at first: the first command shows what a changed checkout costs.
    ours.env.BLUEGREEN_TS_CACHE_DIR = path.join(ours.dir, ".ts-cache");
    pulumi(ours, ["stack", "init", STACK]);
    pulumi(ours, ["config", "set", "kubeconfig", kubeconfig]);
    pulumi(ours, ["config", "set", "installIstio", "false"]);
    pulumi(ours, ["config", "set", "activeColor", "blue"]);

    // The floor: generated from what ours declares for that stack, for each color.
    await useMocks(STACK);
    const program = await loadProgram(ours.dir);
    const variants: Record<string, Awaited<ReturnType<typeof evaluate>>["resources"]> = {};
    for (const color of ["blue", "green"]) {
        const ev = await evaluate(program, loadStackConfig(STACK, { activeColor: color }, ours.dir));
        if (ev.error) throw ev.error;
        variants[color] = ev.resources;
    }
    const floorDir = fs.mkdtempSync(path.join(os.tmpdir(), "bluegreen-bench-floor-"));
    fs.writeFileSync(path.join(floorDir, "index.js"), floorProgram("activeColor", variants));
    fs.writeFileSync(path.join(floorDir, "package.json"), JSON.stringify({ name: "bluegreen-floor", private: true, main: "index.js" }));
    fs.writeFileSync(path.join(floorDir, "Pulumi.yaml"), "name: bluegreen-floor\nmain: index.js\nruntime:\n  name: nodejs\n  options:\n    typescript: false\n");
    fs.symlinkSync(path.join(root, "node_modules"), path.join(floorDir, "node_modules"));
    const floor = project("floor", floorDir);
    pulumi(floor, ["stack", "init", STACK]);
    pulumi(floor, ["config", "set", "kubeconfig", kubeconfig]);

    const objects = variants.blue.filter((r) => r.custom && r.type.startsWith("kubernetes:")).length;
    console.log(`${os.cpus().length} x ${os.cpus()[0]?.model ?? "unknown CPU"}, Node ${process.version}, ${spawnSync("pulumi", ["version"], { encoding: "utf8" }).stdout.trim()}`);
    console.log(`ours: ${variants.blue.length} resources (${objects} Kubernetes objects); floor: the same ${objects} objects and their provider`);
    console.log(`${RUNS} runs, ours and floor interleaved; each run: up, preview, switch, refused preview (the floor's: first run only), destroy\n`);

    const cold = pulumi(ours, ["preview"]).ms;
    console.log(`ours, first pulumi preview with an empty transpile cache: ${(cold / 1000).toFixed(1)} s\n`);

    const samples = { ours: [] as Record<Command, number>[], floor: [] as Record<Command, number>[] };
    try {
        for (let i = 1; i <= RUNS; i++) {
            for (const p of [ours, floor]) {
                const t = cycle(p, p === ours || i === 1);
                samples[p.label as "ours" | "floor"].push(t);
                console.log(`run ${i} ${p.label.padEnd(5)} ${COMMANDS.filter((c) => !Number.isNaN(t[c])).map((c) => `${c} ${(t[c] / 1000).toFixed(1)} s`).join(", ")}`);
            }
        }
    } finally {
        for (const p of [ours, floor]) {
            spawnSync("pulumi", ["destroy", "--yes", "--skip-preview", "--non-interactive"], { cwd: p.dir, env: p.env });
            fs.rmSync(p.dir, { recursive: true, force: true });
        }
    }

    const m = (who: "ours" | "floor", c: Command) => median(samples[who].map((t) => t[c]).filter((x) => !Number.isNaN(x)));
    const s = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
    console.log(`\n| command (median of ${RUNS}) | ours | floor | ours/floor |`);
    console.log("|---|---|---|---|");
    for (const c of COMMANDS) {
        const floorNote = c === "refused" ? " (a plain program that throws; 1 run)" : "";
        console.log(`| ${LABELS[c]} | ${s(m("ours", c))} | ${s(m("floor", c))}${floorNote} | ${(m("ours", c) / m("floor", c)).toFixed(2)} |`);
    }
    const ratio = (a: number, b: number) => (a / b).toFixed(2);
    console.log(`\nratios: preview=${ratio(m("ours", "preview"), m("floor", "preview"))} up=${ratio(m("ours", "up"), m("floor", "up"))} ` +
        `switch=${ratio(m("ours", "switch"), m("floor", "switch"))} refused=${ratio(m("ours", "refused"), m("ours", "preview"))}`);
}

main().catch((e) => {
    console.error(e instanceof Error ? e.message : e);
    process.exitCode = 1;
});
