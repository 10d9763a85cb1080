// The users' own workflow against a real Pulumi engine and a real Kubernetes API server:
// pulumi up -> config set activeColor green -> preview (exactly one update) -> up -> rollback ->
// a refused bad value -> destroy. Run through `npm run e2e` (e2e/run.sh), which provides the
// toolchain and the cluster; or directly with `pulumi` and a KUBECONFIG of your own.
// Prints each step's wall time and ends with "N passed, N failed".
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { E2eRun, Watch, WatchEvent, catchAll, changedSteps, revision } from "./harness";

const STACK = "e2e";
const NS = "sample-ns";

const run = new E2eRun("bluegreen-e2e-", { backendUrl: process.env.PULUMI_BACKEND_URL });
const { project, env, timings } = run;
const check = run.check.bind(run);
const pulumi = run.pulumi.bind(run);
const timed = run.timed.bind(run);

const kubectl = run.kubectlJson.bind(run);

const deploymentState = () => Object.fromEntries(["blue", "green"].map((c) => {
    const d = kubectl("-n", NS, "get", "deployment", `nginx-${c}`);
    const rs = kubectl("-n", NS, "get", "replicasets", "-l", `app=nginx,version=${c}`);
    return [c, { generation: d?.metadata?.generation, hashes: (rs?.items ?? []).map((x: any) => x.metadata.labels["pod-template-hash"]).sort().join(",") }];
}));

/** The first version of Deployment `name` whose new ReplicaSet is fully rolled out and ready at `replicas`. */
function readyAt(events: WatchEvent[], name: string, replicas: number, minGeneration = 0): WatchEvent | undefined {
    return events.find(({ object: d }) => d.metadata.name === name && d.metadata.generation > minGeneration &&
        d.spec.replicas === replicas && d.status?.observedGeneration === d.metadata.generation &&
        d.status?.updatedReplicas === replicas && d.status?.readyReplicas === replicas && (d.status?.replicas ?? 0) === replicas);
}

/** `pulumi up`, run without blocking the event loop so that the watches keep receiving meanwhile. */
const pulumiUp = (allowFailure: boolean) => run.pulumiAsync(["up", "--yes", "--skip-preview"], allowFailure);

/** Runs `pulumi up` with watches on Deployments and the VirtualService, and returns what they saw. */
async function watchedUp(step: string, expectFailure = false) {
    const deployments = new Watch(env, NS, "deployments");
    const routes = new Watch(env, NS, "virtualservices.networking.istio.io");
    await new Promise((r) => setTimeout(r, 1500)); // both watches have listed the current state
    const since = Date.now();
    const result = await pulumiUp(expectFailure);
    timings.push([step, result.ms]);
    const [d, v] = await Promise.all([deployments.stop(), routes.stop()]);
    const after = (events: WatchEvent[]) => events.filter((e) => e.at >= since);
    return { result, since, deployments: after(d), routes: after(v) };
}

/** `pulumi up` for a switch: its wall time and when the server first routed everything to `color`. */
async function upAndWatchSwitch(step: string, color: string): Promise<void> {
    const up = await watchedUp(step);
    const switched = routedTo(up.routes, color);
    if (switched) timings.push(["   from pulumi up start to the VirtualService changed on the server", switched.at - up.since]);
}

/** The first VirtualService version whose catch-all sends everything to `color`. */
const routedTo = (events: WatchEvent[], color: string) => events.find((e) => catchAll(e.object) === `${color}:100`);

/** The first version of Deployment `name` asking for fewer than `from` replicas. */
const scaleDownFrom = (events: WatchEvent[], name: string, from: number) =>
    events.find(({ object: d }) => d.metadata.name === name && d.spec.replicas < from);

const seconds = (e: WatchEvent | undefined, since: number) => (e ? `${((e.at - since) / 1000).toFixed(1)} s` : "never");

async function main(): Promise<void> {
    const kubeconfig = process.env.KUBECONFIG;
    if (!kubeconfig) throw new Error("KUBECONFIG is not set: run through `npm run e2e`, or export the kubeconfig of a cluster with Istio's CRDs");
    console.log(`project ${project}, backend ${env.PULUMI_BACKEND_URL}, ${spawnSync("pulumi", ["version"], { encoding: "utf8" }).stdout.trim()}`);

    pulumi(["stack", "init", STACK]);
    // As the README advises for a setting that can hold credentials: encrypted in the stack file.
    pulumi(["config", "set", "--secret", "kubeconfig", kubeconfig]);
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
    const changed = changedSteps(preview.stdout);
    check("preview: exactly one resource to update, the VirtualService",
        changed.length === 1 && changed[0].op === "update" && /VirtualService/.test(changed[0].urn), JSON.stringify(changed.map((s: any) => [s.op, s.urn])));
    check("preview: zero creates, deletes or replaces",
        !summary.create && !summary.delete && !summary.replace && !summary["create-replacement"] && summary.update === 1, JSON.stringify(summary));

    // 3. The switch, applied: the server routes to green; no pod restarted.
    await upAndWatchSwitch("3. pulumi up (switch to green)", "green");
    vs = kubectl("-n", NS, "get", "virtualservice.networking.istio.io", "nginx");
    check("after the switch the VirtualService routes the catch-all to green", catchAll(vs) === "green:100");
    check("after the switch no Deployment changed generation or pod template (no restart)",
        JSON.stringify(deploymentState()) === JSON.stringify(before), `${JSON.stringify(before)} vs ${JSON.stringify(deploymentState())}`);

    // 4. Rollback: the same one-field change back.
    pulumi(["config", "set", "activeColor", "blue"]);
    await upAndWatchSwitch("4. pulumi up (rollback to blue)", "blue");
    vs = kubectl("-n", NS, "get", "virtualservice.networking.istio.io", "nginx");
    check("after the rollback the VirtualService routes the catch-all to blue", catchAll(vs) === "blue:100");
    check("after the rollback still no restart", JSON.stringify(deploymentState()) === JSON.stringify(before));

    // 5. Make before break. Park the idle color, then roll back to it in one pulumi up: it must be
    // scaled up and ready before the route moves, and the color losing traffic scales down after.
    pulumi(["config", "set", "activeColor", "green"]);
    timed("5a. pulumi up (switch to green)", () => pulumi(["up", "--yes", "--skip-preview"]));
    pulumi(["config", "set", "idleReplicas", "0"]);
    timed("5b. pulumi up (park the idle color: idleReplicas=0)", () => pulumi(["up", "--yes", "--skip-preview"]));
    check("idleReplicas=0 parks blue at 0 replicas", kubectl("-n", NS, "get", "deployment", "nginx-blue")?.spec?.replicas === 0);
    pulumi(["config", "set", "activeColor", "blue"]);
    const rollback = await watchedUp("5c. pulumi up (roll back to the parked blue: scale up, route, scale down)");
    const blueReady = readyAt(rollback.deployments, "nginx-blue", 2);
    const routedBlue = routedTo(rollback.routes, "blue");
    const greenDown = scaleDownFrom(rollback.deployments, "nginx-green", 2);
    console.log(`       blue ready at ${seconds(blueReady, rollback.since)} (rev ${blueReady && revision(blueReady)}), ` +
        `route -> blue at ${seconds(routedBlue, rollback.since)} (rev ${routedBlue && revision(routedBlue)}), ` +
        `green scale-down at ${seconds(greenDown, rollback.since)} (rev ${greenDown && revision(greenDown)})`);
    check("rollback from parked: blue's new ReplicaSet was fully ready strictly before the route changed",
        !!blueReady && !!routedBlue && revision(blueReady) < revision(routedBlue));
    check("rollback from parked: green began scaling down only after the route changed",
        !!routedBlue && !!greenDown && revision(routedBlue) < revision(greenDown));

    // 6. A new image and a switch in one pulumi up: the route waits for the new ReplicaSet.
    pulumi(["config", "rm", "idleReplicas"]);
    timed("6a. pulumi up (unpark green)", () => pulumi(["up", "--yes", "--skip-preview"]));
    const greenBefore = kubectl("-n", NS, "get", "deployment", "nginx-green");
    pulumi(["config", "set", "greenImage", "nginx:1.29.0"]);
    pulumi(["config", "set", "activeColor", "green"]);
    const imageSwitch = await watchedUp("6b. pulumi up (greenImage=nginx:1.29.0 and switch to green)");
    const greenRolledOut = readyAt(imageSwitch.deployments, "nginx-green", 2, greenBefore?.metadata?.generation ?? 0);
    const routedGreen = routedTo(imageSwitch.routes, "green");
    console.log(`       green's new ReplicaSet ready at ${seconds(greenRolledOut, imageSwitch.since)}, route -> green at ${seconds(routedGreen, imageSwitch.since)}`);
    check("image change + switch: the route changed only after green's new ReplicaSet was fully ready",
        !!greenRolledOut && !!routedGreen && revision(greenRolledOut) < revision(routedGreen) &&
        greenRolledOut.object.spec.template.spec.containers[0].image === "nginx:1.29.0");

    // 7. A rollout that never becomes ready fails the update and leaves the route alone.
    const routeBefore = kubectl("-n", NS, "get", "virtualservice.networking.istio.io", "nginx");
    const neverReady = process.env.E2E_NEVER_READY_IMAGE ?? "nginx:0.0.0-never-ready";
    pulumi(["config", "set", "blueImage", neverReady]);
    pulumi(["config", "set", "activeColor", "blue"]);
    pulumi(["config", "set", "rolloutTimeoutSeconds", "20"]);
    const failedRollout = await watchedUp(`7a. pulumi up (blueImage=${neverReady}, switch to blue, 20 s rollout timeout)`, true);
    const failedText = failedRollout.result.stdout + failedRollout.result.stderr;
    check("a rollout that never becomes ready makes pulumi up fail", failedRollout.result.code !== 0);
    check("...with the provider's error naming the Deployment", /nginx-blue/.test(failedText) && /(timed out|not ready|Ready)/i.test(failedText), failedText.slice(-1500));
    check("...and the program's message that the route was left as it was",
        /Updating Deployment sample-ns\/nginx-blue failed \(refused, or its pods did not become ready in time\), so the VirtualService sample-ns\/nginx, which waits for it, was left as it was/.test(failedText), failedText.slice(-1500));
    const routeAfter = kubectl("-n", NS, "get", "virtualservice.networking.istio.io", "nginx");
    check("...and the VirtualService's resourceVersion is unchanged (traffic stays on green)",
        routeAfter?.metadata?.resourceVersion === routeBefore?.metadata?.resourceVersion && catchAll(routeAfter) === "green:100",
        `${routeBefore?.metadata?.resourceVersion} -> ${routeAfter?.metadata?.resourceVersion}, ${catchAll(routeAfter)}`);
    pulumi(["config", "set", "blueImage", "nginx:1.27.5"]);
    pulumi(["config", "rm", "rolloutTimeoutSeconds"]);
    timed("7b. pulumi up (recover: blue back to nginx:1.27.5, route to blue)", () => pulumi(["up", "--yes", "--skip-preview"]));
    check("after fixing the image one pulumi up recovers: blue ready and routed", catchAll(kubectl("-n", NS, "get", "virtualservice.networking.istio.io", "nginx")) === "blue:100" &&
        kubectl("-n", NS, "get", "deployment", "nginx-blue")?.status?.readyReplicas === 2);

    // 8. Every pod on the server carries the drain settings (kwok runs no containers, so the drain
    // itself is proven by spec here).
    const pods = kubectl("-n", NS, "get", "pods", "-l", "app=nginx")?.items ?? [];
    check(`every pod (${pods.length}) drains: preStop sleep 30 s, grace period 45 s, native sidecar annotation`, pods.length >= 4 && pods.every((p: any) =>
        p.spec.containers[0].lifecycle?.preStop?.sleep?.seconds === 30 && p.spec.terminationGracePeriodSeconds === 45 &&
        p.metadata.annotations?.["sidecar.istio.io/nativeSidecar"] === "true"), JSON.stringify(pods.map((p: any) => p.spec.containers[0].lifecycle)));

    // 9. A bad value is refused with the clear message, and nothing on the cluster moves.
    vs = kubectl("-n", NS, "get", "virtualservice.networking.istio.io", "nginx");
    const resourceVersion = vs?.metadata?.resourceVersion;
    pulumi(["config", "set", "activeColor", "purple"]);
    const refused = timed("9. pulumi preview with activeColor=purple", () => pulumi(["preview"], true));
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

    // 9b. A misspelt key is refused with a suggestion (the CLI itself ignores undeclared keys), and nothing moves.
    pulumi(["config", "set", "activeColour", "green"]);
    const typo = timed("9b. pulumi preview with a misspelt key activeColour", () => pulumi(["preview"], true));
    const typoText = typo.stdout + typo.stderr;
    check("preview with activeColour=green fails", typo.code !== 0);
    check("...suggesting the declared setting", /activeColour: is not a setting of this project; did you mean `activeColor`\?/.test(typoText), typoText.slice(-2000));
    vs = kubectl("-n", NS, "get", "virtualservice.networking.istio.io", "nginx");
    check("...and leaves the cluster untouched", vs?.metadata?.resourceVersion === resourceVersion && catchAll(vs) === "blue:100");
    pulumi(["config", "rm", "activeColour"]);

    // 9c. The kubeconfig is a secret in the configuration and in the state (the program wraps it in pulumi.secret).
    const shown = pulumi(["config", "--json"]);
    check("pulumi config shows kubeconfig as a secret", JSON.parse(shown.stdout)[`gke-istio-bluegreen:kubeconfig`]?.secret === true &&
        !shown.stdout.includes(kubeconfig), shown.stdout);
    const state = pulumi(["stack", "export"]).stdout;
    const provider = (JSON.parse(state).deployment?.resources ?? []).find((r: any) => r.type === "pulumi:providers:kubernetes");
    check("the state holds the provider's kubeconfig as a secret, never in clear",
        provider?.inputs?.kubeconfig?.["4dabf18193072939515e22adb298388d"] === "1b47061264138c4ac30d75fd1eb44270" && !state.includes(kubeconfig),
        JSON.stringify(provider?.inputs?.kubeconfig));

    // 10. Destroy removes everything.
    timed("10. pulumi destroy", () => pulumi(["destroy", "--yes", "--skip-preview"]));
    check("destroy removed the namespace and everything in it", kubectl("get", "namespace", NS) === undefined);
    pulumi(["stack", "rm", STACK, "--yes"]);
}

run.finish(main(), "scenario");
