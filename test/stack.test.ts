import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { routeRequest } from "../components/routing";
import { loadProgram } from "../offline/program";
import { loadStackConfig } from "../offline/stack-files";
import { DeclaredResource, Evaluation, MOCK_INGRESS_IP, Resources, evaluate, useMocks } from "./harness";

describe("stack (index.ts)", () => {
    let program: () => unknown;

    before(async () => {
        await useMocks();
        program = await loadProgram();
    });

    const run = (overrides: Record<string, string> = {}): Promise<Evaluation> => evaluate(program, loadStackConfig("dev", overrides));

    it("builds cluster, node pool, mesh charts and workload for the dev stack", async () => {
        const ev = await run();
        assert.equal(ev.error, undefined);
        const r = new Resources(ev.resources);
        for (const type of ["gke-istio-bluegreen:index:BlueGreenEnvironment", "gke-istio-bluegreen:index:GkeCluster", "gke-istio-bluegreen:index:IstioMesh", "gke-istio-bluegreen:index:BlueGreenService",
            "gcp:container/cluster:Cluster", "gcp:container/nodePool:NodePool"]) {
            assert.equal(r.ofType(type).length, 1, type);
        }
        assert.deepEqual(r.ofType("kubernetes:helm.sh/v3:Release").map((x) => x.inputs.chart), ["base", "cni", "istiod", "gateway"]);
        const kinds = r.all.filter((x) => x.custom && x.inputs.kind).map((x) => x.inputs.kind).sort();
        assert.deepEqual(kinds, ["AuthorizationPolicy", "AuthorizationPolicy", "Deployment", "Deployment", "DestinationRule", "Gateway", "Namespace", "Namespace", "Namespace",
            "PeerAuthentication", "PodDisruptionBudget", "PodDisruptionBudget", "Service", "ServiceEntry", "VirtualService"]);
    });

    it("wires every Kubernetes resource through the cluster's provider, never an ambient one", async () => {
        const r = new Resources((await run()).resources);
        const providers = r.ofType("pulumi:providers:kubernetes");
        assert.equal(providers.length, 1, "exactly one Kubernetes provider");
        const [provider] = providers;
        assert.equal(r.byUrn(provider.parent!)?.type, "gke-istio-bluegreen:index:GkeCluster");
        assert.deepEqual(provider.secretPaths, ["kubeconfig"]);
        assert.match(provider.inputs.kubeconfig, /gke-gcloud-auth-plugin/);
        assert.ok(provider.dependsOn.includes(r.ofType("gcp:container/nodePool:NodePool")[0].urn), "the provider waits for the node pool");
        const kubernetes = r.all.filter((x) => x.custom && x.type.startsWith("kubernetes:"));
        assert.ok(kubernetes.length >= 12);
        for (const x of kubernetes) assert.ok(x.provider?.startsWith(`${provider.urn}::`), `${x.type} ${x.name} uses the cluster's provider`);
    });

    it("binds the Gateway to the installed ingress gateway's pod labels", async () => {
        const r = new Resources((await run()).resources);
        const gatewayChart = r.ofType("kubernetes:helm.sh/v3:Release").find((x) => x.inputs.chart === "gateway")!;
        assert.equal(gatewayChart.inputs.values.labels.istio, r.only("Gateway").inputs.spec.selector.istio);
        assert.deepEqual(r.only("Gateway").inputs.spec.selector, { istio: "ingress" });
    });

    it("exports cluster, kubeconfig, ingress address, colors and test commands", async () => {
        const { outputs } = await run({ activeColor: "green" });
        assert.ok(outputs);
        assert.equal(outputs.clusterName, "bluegreen-dev");
        assert.match(outputs.kubeconfig, /"server": "https:\/\/203.0.113.1"/);
        assert.equal(outputs.ingressAddress, MOCK_INGRESS_IP);
        assert.equal(outputs.istioVersion, "1.31.4");
        assert.equal(outputs.activeColor, "green");
        assert.equal(outputs.idleColor, "blue");
        assert.equal(outputs.curlCommands.green, `curl -sS -H 'Host: sample.hoge.com' -H 'x-version: green' http://${MOCK_INGRESS_IP}/`);
    });

    it("deploys into an existing, shared namespace with createNamespace false: labels it, never owns it", async () => {
        const shared = new Resources((await run({ createNamespace: "false" })).resources);
        const owned = new Resources((await run()).resources);
        const workloadNamespaces = (r: Resources) => r.ofType("kubernetes:core/v1:Namespace").filter((x) => x.inputs.metadata.name === "sample-ns");
        assert.equal(workloadNamespaces(owned).length, 1);
        assert.equal(workloadNamespaces(shared).length, 0);
        const [patch] = shared.ofType("kubernetes:core/v1:NamespacePatch");
        assert.equal(patch.inputs.metadata.name, "sample-ns");
        assert.equal(patch.inputs.metadata.labels["istio-injection"], "enabled");
        assert.equal(patch.inputs.metadata.annotations["pulumi.com/patchFieldManager"], "gke-istio-bluegreen-nginx");
        const refused = await run({ createNamespace: "maybe" });
        assert.match(refused.error?.message ?? "", /createNamespace/);
    });

    it("targets an existing cluster and mesh without any GCP or Helm resource", async () => {
        // The program refuses a kubeconfig path that does not exist: give it a real (temporary) file.
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "bluegreen-kubeconfig-"));
        const kubeconfig = path.join(dir, "config");
        fs.writeFileSync(kubeconfig, "apiVersion: v1\nkind: Config\n");
        after(() => fs.rmSync(dir, { recursive: true, force: true }));
        const ev = await evaluate(program, { kubeconfig, installIstio: "false" });
        assert.equal(ev.error, undefined);
        const r = new Resources(ev.resources);
        assert.equal(r.all.filter((x) => x.type.startsWith("gcp:")).length, 0);
        assert.equal(r.ofType("kubernetes:helm.sh/v3:Release").length, 0);
        const [provider] = r.ofType("pulumi:providers:kubernetes");
        assert.equal(provider.inputs.kubeconfig, kubeconfig);
        assert.deepEqual(provider.secretPaths, ["kubeconfig"], "a kubeconfig given as a setting is a secret");
        // Editing or replacing the kubeconfig file (endpoint, CA, context name) must not replace every object.
        assert.equal(provider.inputs.clusterIdentifier, "existing-cluster");
        const named = await evaluate(program, { kubeconfig: kubeconfig, installIstio: "false", clusterIdentifier: "prod-eu" });
        assert.equal(new Resources(named.resources).ofType("pulumi:providers:kubernetes")[0].inputs.clusterIdentifier, "prod-eu");
        const refused = await evaluate(program, { kubeconfig: kubeconfig, installIstio: "false", clusterIdentifier: "has space" });
        assert.match(refused.error?.message ?? "", /clusterIdentifier: got "has space"/);
        assert.deepEqual(r.only("Gateway").inputs.spec.selector, { istio: "ingressgateway" });
        for (const x of r.all.filter((y) => y.custom && y.type.startsWith("kubernetes:"))) assert.ok(x.provider?.startsWith(provider.urn));
        const custom = await evaluate(program, { kubeconfig, installIstio: "false", ingressGatewaySelector: "app=edge" });
        assert.deepEqual(new Resources(custom.resources).only("Gateway").inputs.spec.selector, { app: "edge" });
    });

    it("changes only the VirtualService's catch-all subset when activeColor flips", async () => {
        const blue = await run({ activeColor: "blue" });
        const green = await run({ activeColor: "green" });
        const key = (x: DeclaredResource) => `${x.type}::${x.name}`;
        const before = new Map(blue.resources.map((x) => [key(x), x]));
        const after = new Map(green.resources.map((x) => [key(x), x]));
        assert.deepEqual([...after.keys()].sort(), [...before.keys()].sort(), "the same resources exist");
        // What the engine diffs (inputs, provider, parent, timeouts, hooks): only the VirtualService.
        // Dependencies are not diffed; they only decide the order of this update's steps.
        const diffed = (x: DeclaredResource) => JSON.stringify({ ...x, dependsOn: undefined });
        const changed = [...after.keys()].filter((k) => diffed(before.get(k)!) !== diffed(after.get(k)!));
        assert.deepEqual(changed, ["kubernetes:networking.istio.io/v1:VirtualService::bluegreen-app-virtualservice"]);
        const reordered = [...after.keys()].filter((k) => JSON.stringify(before.get(k)!.dependsOn) !== JSON.stringify(after.get(k)!.dependsOn)).sort();
        assert.deepEqual(reordered, ["kubernetes:apps/v1:Deployment::bluegreen-app-blue", "kubernetes:apps/v1:Deployment::bluegreen-app-green",
            "kubernetes:networking.istio.io/v1:VirtualService::bluegreen-app-virtualservice"], "only the make-before-break edges move");
        const vsBefore = before.get(changed[0])!.inputs;
        const vsAfter = after.get(changed[0])!.inputs;
        assert.equal(routeRequest(vsBefore.spec, {})?.destinations[0].subset, "blue");
        assert.equal(routeRequest(vsAfter.spec, {})?.destinations[0].subset, "green");
        // The rollback record follows the serving color: blue's template hash while blue serves, green's after
        // (the engine keeps the idle color's recorded hash: ignoreChanges).
        const served = (vs: any) => Object.keys(vs.metadata.annotations).filter((k) => k.includes("/served-template-"));
        assert.deepEqual(served(vsBefore), ["gke-istio-bluegreen.dev/served-template-blue"]);
        assert.deepEqual(served(vsAfter), ["gke-istio-bluegreen.dev/served-template-green"]);
        assert.deepEqual(before.get(changed[0])!.ignoreChanges, ['metadata.annotations["gke-istio-bluegreen.dev/served-template-green"]']);
        assert.deepEqual(after.get(changed[0])!.ignoreChanges, ['metadata.annotations["gke-istio-bluegreen.dev/served-template-blue"]']);
        // Everything but that one subset and that record is identical.
        const strip = (vs: any) => JSON.stringify({
            ...vs,
            metadata: { ...vs.metadata, annotations: Object.fromEntries(Object.entries(vs.metadata.annotations).filter(([k]) => !k.includes("/served-template-"))) },
            spec: { ...vs.spec, http: vs.spec.http.slice(0, -1) },
        });
        assert.equal(strip(vsBefore), strip(vsAfter));
        assert.deepEqual(vsBefore.spec.http.at(-1).route.map((d: any) => ({ ...d, destination: { ...d.destination, subset: "x" } })),
            vsAfter.spec.http.at(-1).route.map((d: any) => ({ ...d, destination: { ...d.destination, subset: "x" } })));
    });

    for (const [setting, value, pattern] of [
        ["activeColor", "purple", /activeColor: got "purple"; allowed values: blue, green/],
        ["activeColor", "Blue", /activeColor: got "Blue"; allowed values: blue, green/],
        ["activeColor", "", /activeColor: got an empty string; allowed values: blue, green/],
        ["greenReplicas", "many", /greenReplicas: got "many"; allowed values: a whole number from 0 to 1000/],
        ["blueReplicas", "-2", /blueReplicas: got "-2"; allowed values: a whole number/],
        ["hosts", "[]", /hosts: got \[\]; allowed values: a non-empty list of lowercase DNS names/],
        ["hosts", '["sample..hoge.com"]', /hosts\[0\]: got "sample..hoge.com"/],
        ["loadBalancer", "FASTEST", /loadBalancer: got "FASTEST"; allowed values: ROUND_ROBIN, LEAST_REQUEST, RANDOM/],
    ] as const) {
        it(`refuses ${setting}=${JSON.stringify(value)} before declaring any resource`, async () => {
            const ev = await run({ [setting]: value });
            assert.ok(ev.error, "the program fails");
            assert.match(ev.error.message, pattern);
            // Only the root stack resource, which the engine registers before the program runs.
            assert.deepEqual(ev.resources.map((x) => x.type), ["pulumi:pulumi:Stack"]);
        });
    }
});
