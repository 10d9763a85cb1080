import * as assert from "node:assert/strict";
import type * as mesh from "../components/istio-mesh";
import { ISTIO_CHART_REPOSITORY, gatewayPodLabels } from "../components/istio-mesh";
import { MOCK_INGRESS_IP, Resources, evaluate, useMocks, valueOf } from "./harness";
import { EMPTY_CLUSTER, startKubeApiStandIn } from "./kube-api-stand-in";

const RELEASE = "kubernetes:helm.sh/v3:Release";

describe("IstioMesh", () => {
    let mod: typeof mesh;
    let k8s: typeof import("@pulumi/kubernetes");
    before(async () => {
        await useMocks();
        mod = await import("../components/istio-mesh");
        k8s = await import("@pulumi/kubernetes");
    });

    async function declare(args: mesh.IstioMeshArgs = {}) {
        let component: mesh.IstioMesh | undefined;
        const ev = await evaluate(() => {
            const provider = new k8s.Provider("cluster", {});
            component = new mod.IstioMesh("istio", args, { providers: [provider] });
        });
        return { ...ev, r: new Resources(ev.resources), component };
    }

    it("installs base, cni, istiod and gateway from the official repository, all at one pinned version, each with an explicit release name", async () => {
        const { r } = await declare();
        const releases = r.ofType(RELEASE);
        // Sorted: the order of registration is not the order of the update (dependsOn is: see below).
        assert.deepEqual(releases.map((x) => [x.inputs.name, x.inputs.chart, x.inputs.namespace]).sort((a, b) => a[0].localeCompare(b[0])), [
            ["istio-base", "base", "istio-system"],
            ["istio-cni", "cni", "istio-system"],
            ["istio-ingress", "gateway", "istio-ingress"],
            ["istiod", "istiod", "istio-system"],
        ]);
        for (const x of releases) {
            assert.equal(x.inputs.version, "1.31.4");
            assert.deepEqual(x.inputs.repositoryOpts, { repo: ISTIO_CHART_REPOSITORY });
            assert.equal(x.inputs.skipAwait, false, `${x.inputs.chart} is awaited`);
            // A failed first install is uninstalled (atomic), so the next pulumi up can install again.
            assert.equal(x.inputs.atomic, true, `${x.inputs.chart} is atomic`);
            assert.equal(x.inputs.cleanupOnFail, true, `${x.inputs.chart} cleans up on failure`);
        }
        assert.equal(ISTIO_CHART_REPOSITORY, "https://istio-release.storage.googleapis.com/charts");
        assert.ok((await declare({ version: "1.30.8" })).r.ofType(RELEASE).every((x) => x.inputs.version === "1.30.8"));
    });

    it("orders the install: namespaces, then base, then istiod, then the gateway", async () => {
        const { r } = await declare();
        const byChart = (chart: string) => r.ofType(RELEASE).find((x) => x.inputs.chart === chart)!;
        const ns = (name: string) => r.ofType("kubernetes:core/v1:Namespace").find((x) => x.inputs.metadata.name === name)!;
        assert.ok(byChart("base").dependsOn.includes(ns("istio-system").urn));
        assert.ok(byChart("istiod").dependsOn.includes(byChart("base").urn));
        assert.ok(byChart("cni").dependsOn.includes(ns("istio-system").urn), "the CNI agent needs no CRD: it waits for its namespace only");
        assert.ok(byChart("istiod").dependsOn.includes(byChart("cni").urn), "the CNI agent runs before pods are injected without istio-init");
        assert.ok(byChart("gateway").dependsOn.includes(byChart("istiod").urn));
        assert.ok(byChart("gateway").dependsOn.includes(ns("istio-ingress").urn));
        assert.equal(ns("istio-ingress").inputs.metadata.labels["istio-injection"], undefined, "the gateway's namespace must not disable injection");
        const mtls = r.only("PeerAuthentication");
        assert.ok(mtls.dependsOn.includes(byChart("istiod").urn), "PeerAuthentication waits for istiod's webhook");
    });

    it("turns on mesh-wide STRICT mTLS and access logging, and a highly available gateway with a PDB", async () => {
        const { r } = await declare();
        const mtls = r.only("PeerAuthentication").inputs;
        assert.equal(mtls.apiVersion, "security.istio.io/v1");
        assert.deepEqual(mtls.metadata, { name: "default", namespace: "istio-system" });
        assert.deepEqual(mtls.spec, { mtls: { mode: "STRICT" } });
        const istiod = r.ofType(RELEASE).find((x) => x.inputs.chart === "istiod")!.inputs.values;
        assert.equal(istiod.meshConfig.accessLogFile, "/dev/stdout");
        assert.equal(istiod.pilot, undefined, "istiod's own top-level keys, not the legacy pilot.* shim");
        // TCP ServiceEntries without addresses: istiod allocates one and sidecars answer DNS with it (no IST0134 collision).
        assert.equal(istiod.env.PILOT_ENABLE_IP_AUTOALLOCATE, "true");
        assert.equal(istiod.meshConfig.defaultConfig.proxyMetadata.ISTIO_META_DNS_CAPTURE, "true");
        assert.equal(istiod.autoscaleMin, 2);
        const gateway = r.ofType(RELEASE).find((x) => x.inputs.chart === "gateway")!.inputs.values;
        assert.equal(gateway.service.type, "LoadBalancer");
        assert.ok(gateway.autoscaling.minReplicas >= 2 && gateway.replicaCount >= 2);
        assert.deepEqual(gateway.podDisruptionBudget, { minAvailable: 1 });
        const permissive = (await declare({ mtlsMode: "PERMISSIVE", accessLogging: false })).r;
        assert.deepEqual(permissive.only("PeerAuthentication").inputs.spec, { mtls: { mode: "PERMISSIVE" } });
        assert.equal(permissive.ofType(RELEASE).find((x) => x.inputs.chart === "istiod")!.inputs.values.meshConfig.accessLogFile, undefined);
    });

    it("derives the gateway selector from the gateway chart's pod labels and pins them in its values", async () => {
        const { r, component } = await declare();
        assert.ok(component);
        const values = r.ofType(RELEASE).find((x) => x.inputs.chart === "gateway")!.inputs.values;
        assert.deepEqual(values.labels, { app: "istio-ingress", istio: "ingress" });
        assert.deepEqual(component.gatewaySelector, { istio: "ingress" });
        assert.deepEqual(gatewayPodLabels("istio-ingressgateway"), { app: "istio-ingressgateway", istio: "ingressgateway" });
        assert.deepEqual(gatewayPodLabels("edge"), { app: "edge", istio: "edge" });
        const custom = await declare({ ingressReleaseName: "istio-edge", ingressNamespace: "edge" });
        assert.deepEqual(custom.component?.gatewaySelector, { istio: "edge" });
    });

    it("outputs the version, the ingress address and what Istio resources must wait for", async () => {
        const { r, component } = await declare();
        assert.ok(component);
        assert.equal(await valueOf(component.version), "1.31.4");
        assert.equal(await valueOf(component.ingressAddress), MOCK_INGRESS_IP);
        const readyUrns = await Promise.all(component.ready.map((x) => valueOf(x.urn)));
        assert.deepEqual(readyUrns, r.ofType(RELEASE).filter((x) => x.inputs.chart !== "gateway").map((x) => x.urn));
    });

    it("reads the ingress address from the Service the gateway chart creates: named after the release, in the release's namespace", async () => {
        // The mock engine, like a cluster, finds only that Service: a read by any other ID fails the run.
        for (const args of [{}, { ingressReleaseName: "istio-edge", ingressNamespace: "edge" }, { ingressReleaseName: "edge" }]) {
            const ev = await evaluate(() => {
                const component = new mod.IstioMesh("istio", args, { providers: [new k8s.Provider("cluster", {})] });
                return { ingressAddress: component.ingressAddress };
            });
            assert.equal(ev.outputs?.ingressAddress, MOCK_INGRESS_IP, JSON.stringify(args));
        }
    });

    it("runs pods without istio-init: the CNI chart with the platform profile, and istiod told so", async () => {
        const { r } = await declare({ platform: "gke" });
        const values = (chart: string) => r.ofType(RELEASE).find((x) => x.inputs.chart === chart)!.inputs.values;
        assert.deepEqual(values("cni"), { global: { platform: "gke" } });
        assert.deepEqual(values("istiod").cni, { enabled: true });
        assert.equal(values("istiod").global.platform, "gke");
        const noCni = (await declare({ cni: false })).r;
        assert.equal(noCni.ofType(RELEASE).some((x) => x.inputs.chart === "cni"), false);
        assert.deepEqual(noCni.ofType(RELEASE).find((x) => x.inputs.chart === "istiod")!.inputs.values.cni, { enabled: false });
        assert.equal(noCni.ofType(RELEASE).find((x) => x.inputs.chart === "istiod")!.inputs.values.global.platform, undefined);
    });

    it("installs istiod as the given revision, and the gateway injected by it", async () => {
        const { r } = await declare({ revision: "canary" });
        const istiod = r.ofType(RELEASE).find((x) => x.inputs.chart === "istiod")!;
        assert.equal(istiod.inputs.name, "istiod-canary");
        assert.equal(istiod.inputs.values.revision, "canary");
        assert.equal(r.ofType(RELEASE).find((x) => x.inputs.chart === "gateway")!.inputs.values.revision, "canary");
        assert.deepEqual(r.ofType(RELEASE).find((x) => x.inputs.chart === "base")!.inputs.values, { defaultRevision: "canary" },
            "the default validating webhook points at the istiod that exists");
        assert.equal((await declare()).r.ofType(RELEASE).find((x) => x.inputs.chart === "istiod")!.inputs.values.revision, undefined);
    });

    it("takes the charts from a local directory laid out like a repository", async () => {
        const { r } = await declare({ repository: "/srv/istio-charts/" });
        assert.deepEqual(r.ofType(RELEASE).map((x) => [x.inputs.chart, x.inputs.repositoryOpts]), [
            ["/srv/istio-charts/base", undefined], ["/srv/istio-charts/cni", undefined],
            ["/srv/istio-charts/istiod", undefined], ["/srv/istio-charts/gateway", undefined],
        ]);
    });

    it("lets the gateway see client addresses: externalTrafficPolicy Local", async () => {
        const gateway = (await declare()).r.ofType(RELEASE).find((x) => x.inputs.chart === "gateway")!.inputs.values;
        assert.deepEqual(gateway.service, { type: "LoadBalancer", externalTrafficPolicy: "Local" });
    });

    it("gives every child the provider it was given", async () => {
        const { r } = await declare();
        const provider = r.ofType("pulumi:providers:kubernetes")[0];
        for (const x of r.all.filter((y) => y.custom && y.type.startsWith("kubernetes:"))) {
            assert.ok(x.provider?.startsWith(`${provider.urn}::`), `${x.type} ${x.name}`);
        }
    });

    it("refuses Istio before 1.24, whose base chart keeps CRDs where Helm never upgrades them", async () => {
        for (const version of ["1.23.6", "1.9.0"]) {
            const ev = await declare({ version });
            assert.match(ev.error?.message ?? "", new RegExp(`version: is ${version.replace(/\./g, "\\.")}, older than 1\\.24\\.0`), version);
        }
        for (const version of ["1.24.0", "1.30.8", "1.100.0"]) assert.equal((await declare({ version })).error, undefined, version);
    });

    it("refuses a bad version, mTLS mode or replica count before declaring anything", async () => {
        const ev = await declare({ version: "1.31", mtlsMode: "DISABLE" as any, ingressReplicas: 1 });
        assert.ok(ev.error);
        assert.match(ev.error.message, /version: got "1.31"; allowed values: an exact Istio release/);
        assert.match(ev.error.message, /mtlsMode: got "DISABLE"; allowed values: STRICT, PERMISSIVE/);
        assert.match(ev.error.message, /ingressReplicas: got 1; allowed values: a whole number from 2 to 100/);
        assert.deepEqual(ev.resources.map((x) => x.type).sort(), ["pulumi:providers:kubernetes", "pulumi:pulumi:Stack"]);
    });

    describe("several control planes (issue 23)", () => {
        const planes = [{ revision: "stable", version: "1.30.8" }, { revision: "canary", version: "1.31.4" }];

        it("installs one istiod release per revision at its own version; base at the newest, CNI at the oldest, the gateway at its revision's", async () => {
            const { r, component } = await declare({ controlPlanes: planes, validatorRevision: "stable", gatewayRevision: "canary" });
            const releases = r.ofType(RELEASE).map((x) => `${x.name} ${x.inputs.name} ${x.inputs.version} ${x.inputs.values.revision ?? x.inputs.values.defaultRevision ?? "-"}`);
            assert.deepEqual(releases.sort(), [
                "istio-base istio-base 1.31.4 stable",
                "istio-cni istio-cni 1.30.8 -",
                "istio-gateway istio-ingress 1.31.4 canary",
                "istio-istiod-canary istiod-canary 1.31.4 canary",
                "istio-istiod-stable istiod-stable 1.30.8 stable",
            ]);
            assert.deepEqual(Object.keys(component!.istiods).sort(), ["canary", "stable"]);
        });

        it("makes the validator's istiod ready before base points the default validator at it, and every other istiod wait for base's CRDs", async () => {
            const { r } = await declare({ controlPlanes: planes, validatorRevision: "canary", gatewayRevision: "stable" });
            const named = (name: string) => r.all.find((x) => x.name === name)!;
            assert.ok(named("istio-base").dependsOn.includes(named("istio-istiod-canary").urn));
            assert.ok(!named("istio-istiod-canary").dependsOn.includes(named("istio-base").urn));
            assert.ok(named("istio-istiod-canary").dependsOn.includes(named("istio-cni").urn));
            assert.ok(named("istio-istiod-stable").dependsOn.includes(named("istio-base").urn));
            assert.ok(named("istio-gateway").dependsOn.includes(named("istio-istiod-stable").urn), "the gateway waits for the istiod that injects it");
            assert.ok(r.only("PeerAuthentication").dependsOn.includes(named("istio-istiod-canary").urn), "Istio config waits for the validator");
        });

        it("lets the validating revision adopt the one istiod of an older stack (alias istio-istiod), unless a revision-less istiod is listed", async () => {
            const aliases = async (args: mesh.IstioMeshArgs) => Object.fromEntries((await declare(args)).r.ofType(RELEASE)
                .filter((x) => x.inputs.chart === "istiod").map((x) => [x.name, x.aliases.filter((a) => a.name).map((a) => a.name)]));
            assert.deepEqual(await aliases({ controlPlanes: planes, validatorRevision: "canary", gatewayRevision: "canary" }),
                { "istio-istiod-stable": [], "istio-istiod-canary": ["istio-istiod"] });
            assert.deepEqual(await aliases({ controlPlanes: [{ revision: "default", version: "1.30.8" }, planes[1]], validatorRevision: "canary", gatewayRevision: "canary" }),
                { "istio-istiod": [], "istio-istiod-canary": [] });
            assert.deepEqual(await aliases({ revision: "canary" }), { "istio-istiod-canary": ["istio-istiod"] });
        });

        it("binds the guard before every istiod release's delete, the in-place check before its update, and the validator check to base, by stable names", async () => {
            const { r } = await declare({ controlPlanes: planes, validatorRevision: "stable", gatewayRevision: "stable" });
            const hooked = Object.fromEntries(r.ofType(RELEASE).filter((x) => x.resourceHooks).map((x) => [x.name, x.resourceHooks]));
            const bound = { beforeUpdate: ["istio-istiod-in-place"], beforeDelete: ["istio-istiod-guard"] };
            assert.deepEqual(hooked, { "istio-istiod-stable": bound, "istio-istiod-canary": bound, "istio-base": { beforeUpdate: ["istio-validator-ready"] } });
        });

        it("runs the guard against the cluster of the given kubeconfig: refuses while a pod of the revision runs, lets the delete go once none does", async () => {
            const api = await startKubeApiStandIn({ ...EMPTY_CLUSTER,
                "/api/v1/pods": [{ metadata: { name: "nginx-blue-1", namespace: "sample-ns", annotations: { "istio.io/rev": "stable" } } }] });
            try {
                const binding = mod.istiodHooks("istio", api.kubeconfig)!;
                const guard = binding.beforeDelete![0] as import("@pulumi/pulumi").ResourceHook;
                const args = { urn: "urn", id: "id", name: "istio-istiod-stable", type: RELEASE, oldInputs: { name: "istiod-stable", chart: "istiod", values: { revision: "stable" } } };
                await assert.rejects(Promise.resolve(guard.callback(args)), /Refusing to delete the istiod Helm release istiod-stable: revision stable still serves 1 object\(s\).*\n  - Pod sample-ns\/nginx-blue-1/s);
                api.lists["/api/v1/pods"] = [];
                await guard.callback(args);
                // Another chart's release is none of the guard's business.
                await guard.callback({ ...args, oldInputs: { name: "istio-ingress", chart: "gateway", values: { revision: "stable" } } });
                const inPlace = binding.beforeUpdate![0] as import("@pulumi/pulumi").ResourceHook;
                assert.throws(() => inPlace.callback({ ...args, oldInputs: { ...args.oldInputs, version: "1.31.4" }, newInputs: { ...args.oldInputs, version: "1.30.8" } }),
                    /from 1\.31\.4 to 1\.30\.8 in place/);
            } finally {
                await api.close();
            }
        });

        it("lets base move the default validator only to an istiod that is Available (the one-step istioRevision change stops there)", async () => {
            const deployment = "/apis/apps/v1/namespaces/istio-system/deployments/istiod-canary";
            const api = await startKubeApiStandIn({}, { [deployment]: { status: { conditions: [{ type: "Available", status: "False" }] } } });
            try {
                const hook = mod.baseHooks("istio", "istio-system", api.kubeconfig)!.beforeUpdate![0] as import("@pulumi/pulumi").ResourceHook;
                const base = (defaultRevision?: string) => ({ name: "istio-base", chart: "base", values: defaultRevision ? { defaultRevision } : {} });
                const args = { urn: "urn", id: "id", name: "istio-base", type: RELEASE, oldInputs: base(), newInputs: base("canary") };
                await assert.rejects(Promise.resolve(hook.callback(args)),
                    /from revision default to canary: Deployment istio-system\/istiod-canary is not Available.*list both in istioControlPlanes.*orphan every running sidecar/s);
                api.objects[deployment] = { status: { conditions: [{ type: "Available", status: "True" }] } };
                await hook.callback(args);
                delete api.objects[deployment];
                await assert.rejects(Promise.resolve(hook.callback(args)), /not Available/, "a Deployment that does not exist is not Available");
                const requests = api.requests.length;
                await hook.callback({ ...args, newInputs: { ...base(), version: "1.31.4" } });
                assert.equal(api.requests.length, requests, "an update that keeps the validator reads nothing");
            } finally {
                await api.close();
            }
        });

        it("refuses the one-istiod settings beside the list, and a validator or gateway left to chance", async () => {
            const ev = await declare({ controlPlanes: planes, version: "1.31.4", revision: "stable" });
            assert.match(ev.error?.message ?? "", /version: is set together with controlPlanes, which replaces it/);
            assert.match(ev.error?.message ?? "", /revision: is set together with controlPlanes/);
            assert.match(ev.error?.message ?? "", /validatorRevision: is unset but controlPlanes lists 2 control planes/);
            assert.match(ev.error?.message ?? "", /gatewayRevision: is unset but controlPlanes lists 2 control planes/);
            assert.deepEqual(ev.resources.map((x) => x.type).sort(), ["pulumi:providers:kubernetes", "pulumi:pulumi:Stack"]);
        });
    });
});

