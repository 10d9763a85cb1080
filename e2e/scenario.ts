// The users' own workflow against a real Pulumi engine and a real Kubernetes API server:
// pulumi up -> config set activeColor green -> preview (exactly one update) -> up -> rollback ->
// a refused bad value -> destroy. Run through `npm run e2e` (e2e/run.sh), which provides the
// toolchain and the cluster; or directly with `pulumi` and a KUBECONFIG of your own.
// Prints each step's wall time and ends with "N passed, N failed".
import { execFile, spawn, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { promisify } from "node:util";

const execFileAsync = promisify(execFile);
const ROOT = path.join(__dirname, "..");
const STACK = "e2e";
const NS = "sample-ns";

let passed = 0;
let failed = 0;
const timings: [string, number][] = [];

function check(description: string, ok: boolean, detail = ""): void {
    if (ok) {
        passed++;
        console.log(`ok   - ${description}`);
    } else {
        failed++;
        console.log(`FAIL - ${description}${detail ? `\n       ${detail.split("\n").join("\n       ")}` : ""}`);
    }
}

/**
 * A throwaway project directory: a copy of the repository as a user has it (everything but
 * dependencies, build output and VCS data), with the repo's node_modules. Copying the whole
 * tree, not a hand-picked list, means the e2e runs what a user's `pulumi up` runs.
 */
function makeProject(): string {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "bluegreen-e2e-"));
    const skip = new Set(["node_modules", ".git", "bin", "out"]);
    fs.cpSync(ROOT, dir, { recursive: true, filter: (src) => !skip.has(path.relative(ROOT, src).split(path.sep)[0]) });
    fs.symlinkSync(path.join(ROOT, "node_modules"), path.join(dir, "node_modules"));
    fs.mkdirSync(path.join(dir, ".state"));
    return dir;
}

const project = makeProject();
const env = {
    ...process.env,
    PULUMI_BACKEND_URL: process.env.PULUMI_BACKEND_URL ?? `file://${path.join(project, ".state")}`,
    PULUMI_CONFIG_PASSPHRASE: process.env.PULUMI_CONFIG_PASSPHRASE ?? "e2e",
    PULUMI_SKIP_UPDATE_CHECK: "true",
    PULUMI_DIY_BACKEND_NO_LEGACY_WARNING: "true",
    NO_COLOR: "1",
};

function pulumi(args: string[], allowFailure = false) {
    const start = Date.now();
    const r = spawnSync("pulumi", [...args, "--non-interactive"], { cwd: project, env, encoding: "utf8", maxBuffer: 64 * 2 ** 20 });
    const result = { code: r.status, stdout: r.stdout ?? "", stderr: r.stderr ?? "", ms: Date.now() - start };
    if (r.error) throw r.error;
    if (!allowFailure && result.code !== 0) {
        throw new Error(`pulumi ${args.join(" ")} failed (${result.code}):\n${result.stdout}\n${result.stderr}`);
    }
    return result;
}

function kubectl(...args: string[]): any {
    const r = spawnSync("kubectl", [...args, "-o", "json"], { env, encoding: "utf8" });
    if (r.status !== 0) return undefined;
    return JSON.parse(r.stdout);
}

function timed<T>(step: string, fn: () => T): T {
    const start = Date.now();
    try {
        return fn();
    } finally {
        timings.push([step, Date.now() - start]);
    }
}

const catchAll = (vs: any) => vs?.spec?.http?.find((r: any) => !r.match)?.route?.map((d: any) => `${d.destination.subset}:${d.weight}`).join(",");
const deploymentState = () => Object.fromEntries(["blue", "green"].map((c) => {
    const d = kubectl("-n", NS, "get", "deployment", `nginx-${c}`);
    const rs = kubectl("-n", NS, "get", "replicasets", "-l", `app=nginx,version=${c}`);
    return [c, { generation: d?.metadata?.generation, hashes: (rs?.items ?? []).map((x: any) => x.metadata.labels["pod-template-hash"]).sort().join(",") }];
}));

/** Runs `pulumi up` and measures, on the API server, when the VirtualService's catch-all reaches `color`. */
async function upAndWatchSwitch(color: string): Promise<{ upMs: number; switchedMs?: number }> {
    const start = Date.now();
    let switchedMs: number | undefined;
    const child = spawn("pulumi", ["up", "--yes", "--skip-preview", "--non-interactive"], { cwd: project, env, stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    child.stdout.on("data", (d) => { output += d; });
    child.stderr.on("data", (d) => { output += d; });
    const exited = new Promise<number | null>((resolve) => child.on("exit", resolve));
    let done = false;
    void exited.then(() => { done = true; });
    while (!done || switchedMs === undefined) {
        try {
            const { stdout } = await execFileAsync("kubectl", ["-n", NS, "get", "virtualservice.networking.istio.io", "nginx", "-o", "json"], { env });
            if (switchedMs === undefined && catchAll(JSON.parse(stdout)) === `${color}:100`) switchedMs = Date.now() - start;
        } catch { /* not readable this instant */ }
        if (done && switchedMs === undefined) break;
        await new Promise((r) => setTimeout(r, 100));
    }
    const code = await exited;
    if (code !== 0) throw new Error(`pulumi up failed (${code}):\n${output}`);
    return { upMs: Date.now() - start, switchedMs };
}

async function main(): Promise<void> {
    const kubeconfig = process.env.KUBECONFIG;
    if (!kubeconfig) throw new Error("KUBECONFIG is not set: run through `npm run e2e`, or export the kubeconfig of a cluster with Istio's CRDs");
    console.log(`project ${project}, backend ${env.PULUMI_BACKEND_URL}, ${spawnSync("pulumi", ["version"], { encoding: "utf8" }).stdout.trim()}`);

    pulumi(["stack", "init", STACK]);
    pulumi(["config", "set", "kubeconfig", kubeconfig]);
    pulumi(["config", "set", "installIstio", "false"]);
    pulumi(["config", "set", "activeColor", "blue"]);

    // 1. From nothing: every object created; read it all back from the API server.
    timed("1. pulumi up from nothing", () => pulumi(["up", "--yes", "--skip-preview"]));
    const ns = kubectl("get", "namespace", NS);
    check("namespace labelled istio-injection=enabled", ns?.metadata?.labels?.["istio-injection"] === "enabled");
    for (const color of ["blue", "green"]) {
        const d = kubectl("-n", NS, "get", "deployment", `nginx-${color}`);
        const available = d?.status?.conditions?.find((c: any) => c.type === "Available")?.status === "True";
        check(`Deployment nginx-${color} Available with ${d?.spec?.replicas} ready replicas`, available && d?.status?.readyReplicas === d?.spec?.replicas,
            JSON.stringify(d?.status));
        check(`Deployment nginx-${color} pods labelled app=nginx, version=${color}`,
            d?.spec?.template?.metadata?.labels?.app === "nginx" && d?.spec?.template?.metadata?.labels?.version === color);
    }
    const svc = kubectl("-n", NS, "get", "service", "nginx");
    const port = svc?.spec?.ports?.[0];
    check("Service nginx 40001 -> 80, named http, selecting app=nginx only",
        port?.port === 40001 && port?.targetPort === 80 && port?.name === "http" && JSON.stringify(svc?.spec?.selector) === '{"app":"nginx"}');
    const gw = kubectl("-n", NS, "get", "gateway.networking.istio.io", "nginx-gateway");
    check("Gateway nginx-gateway admits sample.hoge.com on port 80", gw?.spec?.servers?.[0]?.port?.number === 80 && gw?.spec?.servers?.[0]?.hosts?.[0] === "sample.hoge.com");
    const dr = kubectl("-n", NS, "get", "destinationrule.networking.istio.io", "nginx");
    check("DestinationRule has subsets blue and green by label version",
        JSON.stringify(dr?.spec?.subsets?.map((s: any) => [s.name, s.labels.version])) === '[["blue","blue"],["green","green"]]');
    let vs = kubectl("-n", NS, "get", "virtualservice.networking.istio.io", "nginx");
    check("VirtualService default route -> blue", catchAll(vs) === "blue:100", JSON.stringify(vs?.spec?.http));
    const before = deploymentState();

    // 1b. Building the library must not change which program Pulumi runs (package.json's `main`
    // points at the compiled library; without Pulumi.yaml `main` that would plan to delete all).
    const build = timed("1b. npm run build", () => spawnSync("npm", ["run", "build"], { cwd: project, env, encoding: "utf8" }));
    check("npm run build compiles the library into package.json's main", build.status === 0 &&
        fs.existsSync(path.join(project, JSON.parse(fs.readFileSync(path.join(project, "package.json"), "utf8")).main)), build.stdout + build.stderr);
    const afterBuild = timed("1c. pulumi preview after the build", () => pulumi(["preview", "--json"]));
    const afterBuildSummary = JSON.parse(afterBuild.stdout).changeSummary ?? {};
    check("after a build, pulumi preview plans no deletes and no changes",
        !afterBuildSummary.delete && !afterBuildSummary.create && !afterBuildSummary.update && !afterBuildSummary.replace, JSON.stringify(afterBuildSummary));

    // 2. The switch, previewed: exactly one update, the VirtualService.
    pulumi(["config", "set", "activeColor", "green"]);
    const preview = timed("2. pulumi preview --diff --json (switch to green)", () => pulumi(["preview", "--diff", "--json"]));
    const plan = JSON.parse(preview.stdout);
    const summary = plan.changeSummary ?? {};
    const changed = (plan.steps ?? []).filter((s: any) => s.op !== "same");
    check("preview: exactly one resource to update, the VirtualService",
        changed.length === 1 && changed[0].op === "update" && /VirtualService/.test(changed[0].urn), JSON.stringify(changed.map((s: any) => [s.op, s.urn])));
    check("preview: zero creates, deletes or replaces",
        !summary.create && !summary.delete && !summary.replace && !summary["create-replacement"] && summary.update === 1, JSON.stringify(summary));

    // 3. The switch, applied: the server routes to green; no pod restarted.
    const switched = await upAndWatchSwitch("green");
    timings.push(["3. pulumi up (switch to green)", switched.upMs]);
    if (switched.switchedMs !== undefined) timings.push(["   from pulumi up start to the VirtualService changed on the server", switched.switchedMs]);
    vs = kubectl("-n", NS, "get", "virtualservice.networking.istio.io", "nginx");
    check("after the switch the VirtualService routes the catch-all to green", catchAll(vs) === "green:100");
    check("after the switch no Deployment changed generation or pod template (no restart)",
        JSON.stringify(deploymentState()) === JSON.stringify(before), `${JSON.stringify(before)} vs ${JSON.stringify(deploymentState())}`);

    // 4. Rollback: the same one-field change back.
    pulumi(["config", "set", "activeColor", "blue"]);
    const rolledBack = await upAndWatchSwitch("blue");
    timings.push(["4. pulumi up (rollback to blue)", rolledBack.upMs]);
    vs = kubectl("-n", NS, "get", "virtualservice.networking.istio.io", "nginx");
    check("after the rollback the VirtualService routes the catch-all to blue", catchAll(vs) === "blue:100");
    check("after the rollback still no restart", JSON.stringify(deploymentState()) === JSON.stringify(before));

    // 5. A bad value is refused with the clear message, and nothing on the cluster moves.
    const resourceVersion = vs?.metadata?.resourceVersion;
    pulumi(["config", "set", "activeColor", "purple"]);
    const refused = timed("5. pulumi preview with activeColor=purple", () => pulumi(["preview"], true));
    const text = refused.stdout + refused.stderr;
    check("preview with activeColor=purple fails", refused.code !== 0);
    check("...with the message naming the setting and the allowed values", /activeColor: got "purple"; allowed values: blue, green/.test(text), text.slice(-2000));
    // The program refuses before declaring anything, so the answer must come as fast as a valid
    // preview's (it once took a minute; twice the valid preview is a generous bound).
    check(`...in ${(refused.ms / 1000).toFixed(1)} s, at most twice the valid preview's ${(preview.ms / 1000).toFixed(1)} s`,
        refused.ms <= 2 * preview.ms);
    vs = kubectl("-n", NS, "get", "virtualservice.networking.istio.io", "nginx");
    check("...and leaves the cluster untouched", vs?.metadata?.resourceVersion === resourceVersion && catchAll(vs) === "blue:100");
    pulumi(["config", "set", "activeColor", "blue"]);

    // 6. Destroy removes everything.
    timed("6. pulumi destroy", () => pulumi(["destroy", "--yes", "--skip-preview"]));
    check("destroy removed the namespace and everything in it", kubectl("get", "namespace", NS) === undefined);
    pulumi(["stack", "rm", STACK, "--yes"]);
}

main().catch((e) => {
    failed++;
    console.log(`FAIL - scenario aborted: ${(e as Error).message}`);
}).finally(() => {
    console.log("\nwall time per step:");
    for (const [step, ms] of timings) console.log(`  ${(ms / 1000).toFixed(1).padStart(6)} s  ${step}`);
    if (failed === 0) fs.rmSync(project, { recursive: true, force: true });
    else console.log(`project kept for inspection: ${project}`);
    console.log(`\n${passed} passed, ${failed} failed`);
    process.exitCode = failed === 0 ? 0 : 1;
});
