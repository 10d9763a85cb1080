// Production traps that mocks cannot show, on the real Pulumi engine and a real API server (run by
// e2e/run.sh after scenario.ts, on the same cluster, with its own project copy and stacks):
//   A. Pod Security: the workload namespace enforces baseline and its pods are admitted; a pod
//      with istio-init's capabilities or a privileged one is refused.
//   B. previewAccess: the AuthorizationPolicies and RequestAuthentications are accepted by the API
//      server (Istio's CRD schemas and CEL rules). kwok runs no Envoy, so no 403 is observed here.
//      Then a headerName change: the engine creates the new header's policies before it updates
//      the VirtualService and deletes the old ones after, shown by the resourceVersions of a watch.
//   C. clusterIdentifier: adding it to an existing stack, and then renaming the kubeconfig's context,
//      preview as updates, never replacements.
//   D. The first preview with kubeconfig set and installIstio true (charts from a local directory)
//      succeeds: the ingress Service is not read by a fixed ID before it exists.
// Prints each step's wall time and ends with "N passed, N failed".
import * as fs from "node:fs";
import * as path from "node:path";
import { E2eRun, changedSteps, linkLocalIstioCharts, watchEvents } from "./harness";

const STACK = "production";
const ISTIO_STACK = "production-istio";
const NS = "sample-ns";
const GATEWAY_NS = "istio-system"; // the existing mesh's gateway namespace (installIstio: false)

// The program is type-checked by npm test; the engine's runs here need not repeat it.
const run = new E2eRun("bluegreen-e2e-production-", { env: { PULUMI_NODEJS_TRANSPILE_ONLY: "true" } });
const { project, env } = run;
const check = run.check.bind(run);
const pulumi = run.pulumi.bind(run);
const timed = run.timed.bind(run);

const kubectl = run.kubectl.bind(run);
const getJson = run.kubectlJson.bind(run);
const REPLACING = new Set(["replace", "create-replacement", "delete-replaced", "discard-replaced"]);

/** A pod that Pod Security baseline must refuse, for a server-side dry run. */
function probePod(name: string, securityContext: object): string {
    return JSON.stringify({
        apiVersion: "v1", kind: "Pod", metadata: { name, namespace: NS },
        spec: { containers: [{ name: "probe", image: "nginx:1.27.5", securityContext }] },
    });
}

/** A copy of the kubeconfig with every name changed (context, cluster, user), pointing at the same server. */
function renamedKubeconfig(source: string, suffix: string, server?: (s: string) => string): string {
    const config = JSON.parse(kubectl(["config", "view", "--raw", "--flatten", "-o", "json", "--kubeconfig", source]).stdout);
    const rename = (n: string) => `${n}-${suffix}`;
    config.clusters = config.clusters.map((c: any) => ({ ...c, name: rename(c.name), cluster: { ...c.cluster, server: server ? server(c.cluster.server) : c.cluster.server } }));
    config.users = config.users.map((u: any) => ({ ...u, name: rename(u.name) }));
    config.contexts = config.contexts.map((c: any) => ({ name: rename(c.name), context: { ...c.context, cluster: rename(c.context.cluster), user: rename(c.context.user) } }));
    config["current-context"] = rename(config["current-context"]);
    const file = path.join(project, `kubeconfig-${suffix}.json`);
    fs.writeFileSync(file, JSON.stringify(config, null, 2));
    return file;
}

/** The stack's state with clusterIdentifier removed from every Kubernetes provider: a stack created before this package set it. */
function withoutClusterIdentifier(exported: string): string {
    const state = JSON.parse(fs.readFileSync(exported, "utf8"));
    for (const r of state.deployment.resources ?? []) {
        if (r.type === "pulumi:providers:kubernetes") {
            delete r.inputs?.clusterIdentifier;
            delete r.outputs?.clusterIdentifier;
        }
    }
    const file = exported.replace(/\.json$/, "-without-identifier.json");
    fs.writeFileSync(file, JSON.stringify(state));
    return file;
}

async function main(): Promise<void> {
    const kubeconfig = process.env.KUBECONFIG;
    if (!kubeconfig) throw new Error("KUBECONFIG is not set: run through `npm run e2e`");
    console.log(`project ${project}, backend ${env.PULUMI_BACKEND_URL}`);

    pulumi(["stack", "init", STACK]);
    pulumi(["config", "set", "kubeconfig", kubeconfig]);
    pulumi(["config", "set", "installIstio", "false"]);
    pulumi(["config", "set", "--path", "previewSourceCidrs[0]", "203.0.113.0/24"]);
    pulumi(["config", "set", "previewJwtIssuer", "https://issuer.example.com"]);
    pulumi(["config", "set", "previewJwksUri", "https://issuer.example.com/.well-known/jwks.json"]);
    pulumi(["config", "set", "--path", "previewJwtAudiences[0]", "https://preview.example.com"]);
    pulumi(["config", "set", "--path", "previewJwtClaims[0]", "sub=alice"]);

    // A. Pod Security admission (on in this API server) with the namespace enforcing baseline.
    timed("A. pulumi up (Pod Security baseline, preview policies)", () => pulumi(["up", "--yes", "--skip-preview"]));
    const labels = getJson("get", "namespace", NS)?.metadata?.labels ?? {};
    check("namespace enforces Pod Security baseline and audits restricted, without warn",
        labels["pod-security.kubernetes.io/enforce"] === "baseline" && labels["pod-security.kubernetes.io/audit"] === "restricted" &&
        !Object.keys(labels).some((k) => k.startsWith("pod-security.kubernetes.io/warn")), JSON.stringify(labels));
    const pods = getJson("-n", NS, "get", "pods", "-l", "app=nginx")?.items ?? [];
    const ready = pods.filter((p: any) => p.status?.conditions?.some((c: any) => c.type === "Ready" && c.status === "True"));
    check(`the workload's pods were admitted under baseline and are ready (${ready.length} of 4)`, pods.length === 4 && ready.length === 4,
        JSON.stringify(pods.map((p: any) => p.metadata.name)));
    const events = getJson("-n", NS, "get", "events", "--field-selector", "reason=FailedCreate")?.items ?? [];
    check("no ReplicaSet reported FailedCreate (a Pod Security refusal)", events.length === 0, events.map((e: any) => e.message).join("\n"));
    for (const [what, securityContext] of [
        ["istio-init's NET_ADMIN and NET_RAW", { capabilities: { add: ["NET_ADMIN", "NET_RAW"] } }],
        ["a privileged container", { privileged: true }],
    ] as const) {
        const r = kubectl(["apply", "--dry-run=server", "-f", "-"], probePod("psa-probe", securityContext));
        check(`...while a pod with ${what} is refused by the same namespace`, r.code !== 0 && /violates PodSecurity "baseline:latest"/.test(r.stderr), r.stderr);
    }

    // B. The preview policies, as the API server accepted them.
    const gatewayPolicy = getJson("-n", GATEWAY_NS, "get", "authorizationpolicies.security.istio.io", `${NS}-nginx-preview-x-version`);
    const onHeader = { key: "request.headers[x-version]", values: ["blue", "green"] };
    const toApp = [{ operation: { hosts: ["sample.hoge.com", "sample.hoge.com:*"] } }];
    const notFromOffice = { notRemoteIpBlocks: ["203.0.113.0/24"] };
    check("the gateway's AuthorizationPolicy is stored: DENY x-version blue/green to sample.hoge.com (any port) unless from 203.0.113.0/24 " +
        "or with an issuer token for our audience with sub alice",
        gatewayPolicy?.spec?.action === "DENY" && JSON.stringify(gatewayPolicy.spec.rules) === JSON.stringify([
            { from: [{ source: { ...notFromOffice, notRequestPrincipals: ["https://issuer.example.com/*"] } }], to: toApp, when: [onHeader] },
            { from: [{ source: notFromOffice }], to: toApp, when: [onHeader, { key: "request.auth.audiences", notValues: ["https://preview.example.com"] }] },
            { from: [{ source: notFromOffice }], to: toApp, when: [onHeader, { key: "request.auth.claims[sub]", notValues: ["alice"] }] },
        ]), JSON.stringify(gatewayPolicy?.spec));
    check("the in-mesh AuthorizationPolicy is stored on the workload", getJson("-n", NS, "get", "authorizationpolicies.security.istio.io", "nginx-preview-x-version")?.spec?.action === "DENY");
    const gatewayToken = getJson("-n", GATEWAY_NS, "get", "requestauthentications.security.istio.io", `${NS}-nginx-preview`);
    check("both RequestAuthentications are stored, with the audience", JSON.stringify(gatewayToken?.spec?.jwtRules?.[0]?.audiences) === JSON.stringify(["https://preview.example.com"]) &&
        !!getJson("-n", NS, "get", "requestauthentications.security.istio.io", "nginx-preview"), JSON.stringify(gatewayToken?.spec));
    const invalid = kubectl(["apply", "--dry-run=server", "--validate=strict", "-f", "-"], JSON.stringify({
        ...gatewayPolicy, metadata: { name: "probe", namespace: GATEWAY_NS },
        spec: { ...gatewayPolicy?.spec, rules: [{ when: [{ key: "request.headers[x-version]", valuez: ["blue"] }] }] },
    }));
    check("...and the API server does validate them: a misspelt field is refused", invalid.code !== 0 && /valuez/.test(invalid.stderr), invalid.stderr);

    // B2. A headerName change on the real engine: new guards first, then the route, then the old guards go.
    const policiesWatch = await watchEvents(run, "authorizationpolicies.security.istio.io");
    const routesWatch = await watchEvents(run, "virtualservices.networking.istio.io");
    pulumi(["config", "set", "headerName", "x-color"]);
    timed("B2. pulumi up (headerName x-version -> x-color)", () => pulumi(["up", "--yes", "--skip-preview"]));
    const watched = [
        ...await policiesWatch.stop((seen) => seen.filter((e) => e.type === "DELETED").length >= 2),
        ...await routesWatch.stop((seen) => seen.some((e) => e.type === "MODIFIED")),
    ];
    const at = (type: string, ref: string) => watched.find((e) => e.type === type && e.ref === ref)?.resourceVersion;
    const route = at("MODIFIED", `${NS}/nginx`);
    for (const [where, oldRef, newRef] of [
        ["gateway", `${GATEWAY_NS}/${NS}-nginx-preview-x-version`, `${GATEWAY_NS}/${NS}-nginx-preview-x-color`],
        ["in-mesh", `${NS}/nginx-preview-x-version`, `${NS}/nginx-preview-x-color`],
    ]) {
        const created = at("ADDED", newRef);
        const deleted = at("DELETED", oldRef);
        check(`${where}: the x-color policy is created (rv ${created}) before the VirtualService update (rv ${route}), the x-version one deleted after (rv ${deleted})`,
            created !== undefined && route !== undefined && deleted !== undefined && created < route && route < deleted,
            watched.map((e) => `${e.type} ${e.ref} ${e.resourceVersion}`).join("\n"));
    }
    check("...and no guard was rewritten in place (a policy is only modified on its way out)",
        watched.filter((e) => e.kind === "AuthorizationPolicy" && e.type === "MODIFIED").every((e) => e.deleting), watched.map((e) => `${e.type} ${e.ref}`).join("\n"));
    const routes = JSON.stringify(getJson("-n", NS, "get", "virtualservices.networking.istio.io", "nginx")?.spec?.http ?? []);
    check("the cluster now routes and guards x-color only", routes.includes('"x-color"') && !routes.includes('"x-version"') &&
        getJson("-n", GATEWAY_NS, "get", "authorizationpolicies.security.istio.io", `${NS}-nginx-preview-x-version`) === undefined &&
        getJson("-n", GATEWAY_NS, "get", "authorizationpolicies.security.istio.io", `${NS}-nginx-preview-x-color`)?.spec?.rules?.[0]?.when?.[0]?.key === "request.headers[x-color]", routes);

    // E. The policy pack, run by the real CLI's language host (v3.248.0): clean on this stack, and
    // a mandatory violation (pods injected by a revision no istiod serves) fails the preview.
    const policed = timed("E1. pulumi preview --policy-pack policy", () => pulumi(["preview", "--policy-pack", "policy"], true));
    const policedText = policed.stdout + policed.stderr;
    check("pulumi preview --policy-pack policy runs the pack and passes on the stack",
        policed.code === 0 && /gke-istio-bluegreen@v0\.1\.0 \(local: policy\)/.test(policedText) && !/\[mandatory\]/.test(policedText), policedText.slice(-3000));
    const packConfig = path.join(project, "policy-config.json");
    fs.writeFileSync(packConfig, JSON.stringify({ "injected-revision-installed": { istioRevisions: ["stable"] } }));
    pulumi(["config", "set", "istioRevision", "canary"]);
    const violating = timed("E2. pulumi preview --policy-pack policy (namespace injected by revision canary; the pack knows stable)",
        () => pulumi(["preview", "--policy-pack", "policy", "--policy-pack-config", packConfig], true));
    const violatingText = violating.stdout + violating.stderr;
    check("...and fails a violating configuration with the policy's message", violating.code !== 0 &&
        /\[mandatory\]\s+injected-revision-installed/.test(violatingText) &&
        /Namespace sample-ns is injected by revision canary, but no istiod of that revision is installed or declared \(known: stable\)/.test(violatingText),
        violatingText.slice(-3000));
    pulumi(["config", "rm", "istioRevision"]);

    // C. clusterIdentifier on a stack that predates it, then a renamed kubeconfig context.
    const exported = path.join(project, "state.json");
    pulumi(["stack", "export", "--file", exported]);
    pulumi(["stack", "import", "--file", withoutClusterIdentifier(exported)]);
    const adding = timed("C1. pulumi preview (adding clusterIdentifier to a stack without it)", () => pulumi(["preview", "--json"]));
    const addingSteps = changedSteps(adding.stdout);
    check("adding clusterIdentifier previews as an update of the provider and nothing else",
        JSON.stringify(addingSteps.map((s) => [s.op, s.type])) === JSON.stringify([["update", "pulumi:providers:kubernetes"]]), JSON.stringify(addingSteps));
    timed("C2. pulumi up (store the identifier)", () => pulumi(["up", "--yes", "--skip-preview"]));
    const renamed = renamedKubeconfig(kubeconfig, "renamed");
    pulumi(["config", "set", "kubeconfig", renamed]);
    const renaming = timed("C3. pulumi preview (kubeconfig with renamed context, cluster and user)", () => pulumi(["preview", "--json"]));
    const renamingSteps = changedSteps(renaming.stdout);
    check("a renamed kubeconfig context previews as an update, nothing replaced",
        renamingSteps.every((s) => !REPLACING.has(s.op) && s.op !== "delete" && s.op !== "create") &&
        renamingSteps.some((s) => s.type === "pulumi:providers:kubernetes" && s.op === "update"), JSON.stringify(renamingSteps));
    // The control: the same stack without the identifier, given an equivalent kubeconfig whose server
    // is spelt differently (localhost for 127.0.0.1), is planned as a replacement of everything.
    const equivalent = renamedKubeconfig(kubeconfig, "localhost", (server) => server.replace("127.0.0.1", "localhost"));
    if (kubectl(["--kubeconfig", equivalent, "get", "namespace", NS]).code === 0) {
        pulumi(["stack", "export", "--file", exported]);
        pulumi(["stack", "import", "--file", withoutClusterIdentifier(exported)]);
        pulumi(["config", "set", "kubeconfig", equivalent]);
        const control = timed("C4. pulumi preview (control: no identifier, equivalent kubeconfig)", () => pulumi(["preview", "--json"]));
        const controlSteps = changedSteps(control.stdout);
        check("control: without clusterIdentifier the same cluster under another server name replaces the provider and every object",
            controlSteps.some((s) => s.type === "pulumi:providers:kubernetes" && REPLACING.has(s.op)) && controlSteps.filter((s) => REPLACING.has(s.op)).length > 5,
            JSON.stringify(controlSteps));
        pulumi(["stack", "import", "--file", exported]);
        const withIdentifier = timed("C5. pulumi preview (identifier kept, equivalent kubeconfig)", () => pulumi(["preview", "--json"]));
        const kept = changedSteps(withIdentifier.stdout);
        check("with clusterIdentifier the same change is an update", kept.every((s) => !REPLACING.has(s.op)), JSON.stringify(kept));
    } else {
        console.log("       (control skipped: the API server's certificate does not name localhost)");
    }
    pulumi(["config", "set", "kubeconfig", kubeconfig]);

    // F. A stack created before the type tokens moved to gke-istio-bluegreen:index:<Class>: its state
    // carries the previous tokens (in types, URNs, parents and dependencies). The aliases must adopt
    // every component and child, never replace them.
    const PREVIOUS_TOKENS: Record<string, string> = {
        "gke-istio-bluegreen:index:BlueGreenEnvironment": "bluegreen:index:BlueGreenEnvironment",
        "gke-istio-bluegreen:index:BlueGreenService": "bluegreen:workload:BlueGreenService",
    };
    const generationBefore = getJson("-n", NS, "get", "deployment", "nginx-blue")?.metadata?.generation;
    pulumi(["stack", "export", "--file", exported]);
    let state = fs.readFileSync(exported, "utf8");
    for (const [now, before] of Object.entries(PREVIOUS_TOKENS)) state = state.split(now).join(before);
    check("the rewritten state carries only the previous tokens", !/gke-istio-bluegreen:index:/.test(state) && /bluegreen:workload:BlueGreenService/.test(state));
    const previous = path.join(project, "state-previous-tokens.json");
    fs.writeFileSync(previous, state);
    pulumi(["stack", "import", "--file", previous]);
    const upgrading = timed("F1. pulumi preview (a stack whose state has the previous type tokens)", () => pulumi(["preview", "--json"]));
    const upgradingSteps = changedSteps(upgrading.stdout);
    check("the previous tokens are aliases: no object is created, deleted or replaced", upgradingSteps.every((s) =>
        !REPLACING.has(s.op) && s.op !== "delete" && s.op !== "create"), JSON.stringify(upgradingSteps));
    timed("F2. pulumi up (adopt the new tokens)", () => pulumi(["up", "--yes", "--skip-preview"]));
    pulumi(["stack", "export", "--file", exported]);
    const adopted = fs.readFileSync(exported, "utf8");
    check("...and after pulumi up the state names the components by their new tokens only",
        /gke-istio-bluegreen:index:BlueGreenService/.test(adopted) && !/bluegreen:workload:BlueGreenService/.test(adopted));
    const generationAfter = getJson("-n", NS, "get", "deployment", "nginx-blue")?.metadata?.generation;
    check("...while the workload was never touched (Deployment generation unchanged)",
        generationBefore !== undefined && generationAfter === generationBefore, `${generationBefore} -> ${generationAfter}`);

    // D. The first preview of kubeconfig + installIstio, charts from a local directory.
    const charts = linkLocalIstioCharts();
    pulumi(["stack", "init", ISTIO_STACK]);
    pulumi(["config", "set", "kubeconfig", kubeconfig]);
    pulumi(["config", "set", "installIstio", "true"]);
    pulumi(["config", "set", "istioChartRepository", charts]);
    pulumi(["config", "set", "namespace", "first-preview"]);
    const first = timed("D. first pulumi preview (kubeconfig set, installIstio true, local charts)", () => pulumi(["preview", "--json"], true));
    const firstText = first.stdout + first.stderr;
    check("the first preview with installIstio on an existing cluster succeeds", first.code === 0 && !/does not exist/.test(firstText), firstText.slice(-3000));
    if (first.code === 0) {
        const steps = changedSteps(first.stdout);
        const releases = steps.filter((s) => s.type === "kubernetes:helm.sh/v3:Release" && s.op === "create").map((s) => s.name).sort();
        check("...planning the four Istio releases", JSON.stringify(releases) ===
            JSON.stringify(["bluegreen-istio-base", "bluegreen-istio-cni", "bluegreen-istio-gateway", "bluegreen-istio-istiod"]), JSON.stringify(steps));
    }
    pulumi(["stack", "rm", ISTIO_STACK, "--yes", "--force"]);
    fs.rmSync(charts, { recursive: true, force: true });

    pulumi(["stack", "select", STACK]);
    timed("pulumi destroy", () => pulumi(["destroy", "--yes", "--skip-preview"]));
    check("destroy removed the namespace", getJson("get", "namespace", NS) === undefined);
    pulumi(["stack", "rm", STACK, "--yes"]);
}

run.finish(main(), "production checks");
