// What every e2e script shares: a throwaway copy of the project with its own local backend, the
// `pulumi` runner, checks with a pass/fail count, step timings, and the closing report.
import { spawn, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { CHART_SOURCE_DIRS, locateIstioCharts } from "../offline/istio-charts";
import { copyWorkingTree } from "../offline/working-copy";

const ROOT = path.join(__dirname, "..");

/**
 * A throwaway project directory: a copy of the repository as a user has it (everything but
 * dependencies, build output and VCS data), with the repo's node_modules. Copying the whole
 * tree, not a hand-picked list, means the e2e runs what a user's `pulumi up` runs.
 */
function makeProject(prefix: string): string {
    const dir = copyWorkingTree(ROOT, prefix);
    fs.mkdirSync(path.join(dir, ".state"));
    return dir;
}

/** The steps of a `pulumi preview --json` that are not `same`, with the type and name from the URN. */
export function changedSteps(previewStdout: string): { op: string; type: string; name: string; urn: string }[] {
    const plan = JSON.parse(previewStdout);
    return (plan.steps ?? []).filter((s: any) => s.op !== "same").map((s: any) => {
        const parts = String(s.urn).split("::");
        return { op: s.op, type: parts[2].split("$").pop()!, name: parts[3], urn: s.urn };
    });
}

/** The median of some timings (the benchmarks' figure: robust to one run hit by machine load). */
export function median(values: number[]): number {
    const sorted = [...values].sort((a, b) => a - b);
    const mid = Math.floor(sorted.length / 2);
    return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** A VirtualService's catch-all route as `color:weight[,color:weight]`, e.g. `blue:100`. */
export const catchAll = (vs: any): string | undefined =>
    vs?.spec?.http?.find((r: any) => !r.match)?.route?.map((d: any) => `${d.destination.subset}:${d.weight}`).join(",");

/** One object as a watch delivered it, with the client's receive time. */
export interface WatchEvent {
    at: number;
    object: any;
}

/**
 * `kubectl get <kind> --watch -o json` in the background: every version of every object of that
 * kind in the namespace, as the API server hands them out, in order. Objects are split out of the
 * stream of concatenated JSON documents.
 */
export class Watch {
    readonly events: WatchEvent[] = [];
    private readonly child;
    private buffer = "";

    constructor(env: NodeJS.ProcessEnv, namespace: string, kind: string) {
        this.child = spawn("kubectl", ["-n", namespace, "get", kind, "--watch", "-o", "json"], { env, stdio: ["ignore", "pipe", "ignore"] });
        this.child.stdout.setEncoding("utf8");
        this.child.stdout.on("data", (chunk: string) => this.take(chunk));
    }

    private take(chunk: string): void {
        this.buffer += chunk;
        let depth = 0;
        let inString = false;
        let start = 0;
        for (let i = 0; i < this.buffer.length; i++) {
            const c = this.buffer[i];
            if (inString) {
                if (c === "\\") i++;
                else if (c === '"') inString = false;
            } else if (c === '"') inString = true;
            else if (c === "{") depth++;
            else if (c === "}" && --depth === 0) {
                this.events.push({ at: Date.now(), object: JSON.parse(this.buffer.slice(start, i + 1)) });
                start = i + 1;
            }
        }
        this.buffer = this.buffer.slice(start);
    }

    /** Stops watching, after a moment for the last events to arrive. */
    async stop(): Promise<WatchEvent[]> {
        await new Promise((r) => setTimeout(r, 1500));
        this.child.kill();
        return this.events;
    }
}

/** etcd's revision of an object version: one counter for every write, so it orders writes across kinds. */
export const revision = (e: WatchEvent) => Number(e.object.metadata.resourceVersion);

/** One e2e script's run: its project, environment, checks and timings. */
export class E2eRun {
    passed = 0;
    failed = 0;
    readonly timings: [string, number][] = [];
    readonly project: string;
    readonly env: NodeJS.ProcessEnv;

    /**
     * `project` defaults to a fresh copy of this repository (named `<prefix>…`) and must hold a
     * `.state` folder; `backendUrl` defaults to a file backend in that folder.
     */
    constructor(prefix: string, options: { backendUrl?: string; env?: NodeJS.ProcessEnv; project?: string } = {}) {
        this.project = options.project ?? makeProject(prefix);
        this.env = {
            ...process.env,
            PULUMI_BACKEND_URL: options.backendUrl ?? `file://${path.join(this.project, ".state")}`,
            PULUMI_CONFIG_PASSPHRASE: process.env.PULUMI_CONFIG_PASSPHRASE ?? "e2e",
            PULUMI_SKIP_UPDATE_CHECK: "true",
            PULUMI_DIY_BACKEND_NO_LEGACY_WARNING: "true",
            NO_COLOR: "1",
            ...options.env,
        };
    }

    check(description: string, ok: boolean, detail = ""): void {
        if (ok) {
            this.passed++;
            console.log(`ok   - ${description}`);
        } else {
            this.failed++;
            console.log(`FAIL - ${description}${detail ? `\n       ${detail.split("\n").join("\n       ")}` : ""}`);
        }
    }

    /** Runs `pulumi <args> --non-interactive` in the project; throws on failure unless allowed. */
    pulumi(args: string[], allowFailure = false) {
        const start = Date.now();
        const r = spawnSync("pulumi", [...args, "--non-interactive"], { cwd: this.project, env: this.env, encoding: "utf8", maxBuffer: 64 * 2 ** 20 });
        const result = { code: r.status, stdout: r.stdout ?? "", stderr: r.stderr ?? "", ms: Date.now() - start };
        if (r.error) throw r.error;
        if (!allowFailure && result.code !== 0) {
            throw new Error(`pulumi ${args.join(" ")} failed (${result.code}):\n${result.stdout}\n${result.stderr}`);
        }
        return result;
    }

    /**
     * Runs `pulumi <args> --non-interactive` in the project without blocking the event loop, so
     * that watches keep receiving meanwhile; rejects on failure unless allowed.
     */
    pulumiAsync(args: string[], allowFailure = false): Promise<{ code: number | null; stdout: string; stderr: string; ms: number }> {
        const start = Date.now();
        const child = spawn("pulumi", [...args, "--non-interactive"], { cwd: this.project, env: this.env, stdio: ["ignore", "pipe", "pipe"] });
        let stdout = "";
        let stderr = "";
        child.stdout.on("data", (d) => { stdout += d; });
        child.stderr.on("data", (d) => { stderr += d; });
        return new Promise((resolve, reject) => {
            child.on("error", reject);
            child.on("exit", (code) => {
                const result = { code, stdout, stderr, ms: Date.now() - start };
                if (!allowFailure && code !== 0) reject(new Error(`pulumi ${args.join(" ")} failed (${code}):\n${stdout}\n${stderr}`));
                else resolve(result);
            });
        });
    }

    /** Runs `kubectl <args>` with the run's environment (KUBECONFIG), `input` on stdin. */
    kubectl(args: string[], input?: string): { code: number | null; stdout: string; stderr: string } {
        const r = spawnSync("kubectl", args, { env: this.env, encoding: "utf8", input });
        return { code: r.status, stdout: r.stdout ?? "", stderr: r.stderr ?? "" };
    }

    /** `kubectl <args> -o json`, parsed; undefined when kubectl fails (no such object). */
    kubectlJson(...args: string[]): any {
        const r = this.kubectl([...args, "-o", "json"]);
        return r.code === 0 ? JSON.parse(r.stdout) : undefined;
    }

    timed<T>(step: string, fn: () => T): T {
        const start = Date.now();
        try {
            return fn();
        } finally {
            this.timings.push([step, Date.now() - start]);
        }
    }

    /** Like `timed`, for a step that ends when its promise settles. */
    async timedAsync<T>(step: string, fn: () => Promise<T>): Promise<T> {
        const start = Date.now();
        try {
            return await fn();
        } finally {
            this.timings.push([step, Date.now() - start]);
        }
    }

    /** Waits for `main`, prints the timings and `N passed, N failed`, and sets the exit code; keeps the project when anything failed. */
    finish(main: Promise<void>, what: string): void {
        void main.catch((e) => {
            this.failed++;
            console.log(`FAIL - ${what} aborted: ${(e as Error).message}`);
        }).finally(() => {
            console.log("\nwall time per step:");
            for (const [step, ms] of this.timings) console.log(`  ${(ms / 1000).toFixed(1).padStart(6)} s  ${step}`);
            if (this.failed === 0) fs.rmSync(this.project, { recursive: true, force: true });
            else console.log(`project kept for inspection: ${this.project}`);
            console.log(`\n${this.passed} passed, ${this.failed} failed`);
            process.exitCode = this.failed === 0 ? 0 : 1;
        });
    }
}

/** One admission request the webhook stub answered (see cluster-fakes.ts). */
export interface AdmissionRecord {
    at: number;
    path: string;
    /** `inject` or `validate`. */
    webhook: string;
    /** The revision (or validator name) in the path. */
    revision: string;
    operation: string;
    kind: string;
    namespace: string;
    name: string;
    generateName: string;
    labels: Record<string, string>;
}

/** The running cluster fakes: the webhook stub's URLs and CA, what it was asked, and a stop. */
export interface ClusterFakes {
    /** The injector URL for a revision's MutatingWebhookConfiguration (`istiodRemote.injectionURL`). */
    injectionUrl(revision: string): string;
    /** The validator URL (`base.validationURL`), named so the records tell validators apart. */
    validationUrl(name: string): string;
    /** The stub's CA, base64 PEM, as a webhook's `caBundle` wants it. */
    caBundle: string;
    /** Every admission request answered so far, in order. */
    admissions(): AdmissionRecord[];
    stop(): void;
}

/**
 * Starts e2e/cluster-fakes.ts in a child process (the script blocks in `pulumi`, so the fakes must
 * not share its event loop): an HTTPS admission webhook stub on 127.0.0.1 with a CA made for this
 * run in a temporary directory, and load-balancer addresses for LoadBalancer Services.
 */
export async function startClusterFakes(env: NodeJS.ProcessEnv): Promise<ClusterFakes> {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "bluegreen-e2e-fakes-"));
    const child = spawn(process.execPath, ["-r", "ts-node/register/transpile-only", path.join(__dirname, "cluster-fakes.ts"), dir],
        { cwd: ROOT, env, stdio: ["pipe", "pipe", "inherit"] });
    const port = await new Promise<number>((resolve, reject) => {
        let out = "";
        child.stdout.setEncoding("utf8");
        child.stdout.on("data", (chunk: string) => {
            out += chunk;
            const line = out.split("\n").find((l) => l.startsWith("{"));
            if (line && out.includes("\n")) resolve(JSON.parse(line).port);
        });
        child.on("exit", (code) => reject(new Error(`cluster-fakes.ts exited (${code}) before listening`)));
    });
    const base = `https://127.0.0.1:${port}`;
    const recordsFile = path.join(dir, "admissions.jsonl");
    return {
        injectionUrl: (revision) => `${base}/inject/${revision}`,
        validationUrl: (name) => `${base}/validate/${name}`,
        caBundle: fs.readFileSync(path.join(dir, "ca.pem")).toString("base64"),
        admissions: () => fs.readFileSync(recordsFile, "utf8").split("\n").filter((l) => l.trim() !== "").map((l) => JSON.parse(l)),
        stop: () => {
            child.kill();
            fs.rmSync(dir, { recursive: true, force: true });
        },
    };
}

/** One cluster-wide watch event: its type, the object's kind and `<namespace>/<name>`, the etcd revision it happened at, and the object. */
export interface ClusterWatchEvent { type: string; kind: string; ref: string; resourceVersion: bigint; deleting: boolean; object: any }

/** A background cluster-wide watch: `stop` waits (up to 10 s) until `until` holds for the events seen, then ends it. */
export interface ClusterWatch { stop: (until?: (events: ClusterWatchEvent[]) => boolean) => Promise<ClusterWatchEvent[]> }

/**
 * Watches one resource type cluster-wide in the background (kubectl writes to a file while pulumi
 * runs synchronously), from the current objects (listed as ADDED first, which also tells the watch
 * is open) on. resourceVersions come from etcd's one revision counter, so events of different
 * types are ordered by them.
 */
export async function watchEvents(run: E2eRun, resource: string): Promise<ClusterWatch> {
    const file = path.join(run.project, `watch-${resource}-${Date.now()}.json`);
    const out = fs.openSync(file, "w");
    const watcher = spawn("kubectl", ["get", resource, "-A", "--watch", "--output-watch-events", "-o", "json"], { env: run.env, stdio: ["ignore", out, "inherit"] });
    const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
    // kubectl prints one event per line; a partly written last line is left for later.
    const read = (): ClusterWatchEvent[] => fs.readFileSync(file, "utf8").split("\n").slice(0, -1).map((line) => JSON.parse(line)).map((e: any) => ({
        type: e.type, kind: e.object.kind, ref: `${e.object.metadata.namespace}/${e.object.metadata.name}`, resourceVersion: BigInt(e.object.metadata.resourceVersion),
        deleting: e.object.metadata.deletionTimestamp !== undefined, object: e.object,
    }));
    for (let i = 0; i < 300 && read().length === 0; i++) await sleep(100);
    return {
        stop: async (until = () => true) => {
            // The update has finished; its last events may still be on their way to the file.
            await sleep(500);
            for (let i = 0; i < 100 && !until(read()); i++) await sleep(100);
            watcher.kill();
            fs.closeSync(out);
            return read();
        },
    };
}

/** A temporary directory laid out like a chart repository (`<dir>/<chart>`), linking Istio's pinned charts: for `istioChartRepository`. */
export function linkLocalIstioCharts(): string {
    const charts = fs.mkdtempSync(path.join(os.tmpdir(), "bluegreen-istio-charts-"));
    const source = locateIstioCharts();
    for (const [chart, dir] of Object.entries(CHART_SOURCE_DIRS)) fs.symlinkSync(path.join(source, dir), path.join(charts, chart));
    return charts;
}
