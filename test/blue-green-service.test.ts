import * as assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as path from "node:path";
import type * as bgs from "../components/blue-green-service";
import type { KubernetesObject } from "../components/references";
import { COLORS, routeRequest } from "../components/routing";
import { Evaluation, Resources, evaluate, useMocks, valueOf } from "./harness";

const T = {
    component: "gke-istio-bluegreen:index:BlueGreenService",
    namespace: "kubernetes:core/v1:Namespace",
    namespacePatch: "kubernetes:core/v1:NamespacePatch",
    deployment: "kubernetes:apps/v1:Deployment",
    service: "kubernetes:core/v1:Service",
    provider: "pulumi:providers:kubernetes",
};

/** Declares a BlueGreenService whose blue image is an Output resolving to a bad value; prints how the update failed. */
const RESOLVED_BAD_IMAGE = `
const pulumi = require("@pulumi/pulumi");
const { useMocks, evaluate } = require("./test/harness");
(async () => {
    let failure;
    process.on("unhandledRejection", (e) => { failure = failure ?? e; });
    await useMocks();
    const k8s = require("@pulumi/kubernetes");
    const { BlueGreenService } = require("./components/blue-green-service");
    let declared = false;
    const ev = evaluate(() => {
        const provider = new k8s.Provider("cluster", {});
        new BlueGreenService("bg", { activeColor: "blue", colors: { blue: { image: pulumi.output("nginx:latest"), replicas: 2 } } }, { providers: [provider] });
        declared = true;
    }).then((r) => { failure = failure ?? r.error; }, (e) => { failure = failure ?? e; });
    for (let waited = 0; !failure && waited < 20000; waited += 50) await Promise.race([ev, new Promise((r) => setTimeout(r, 50))]);
    console.log(JSON.stringify({ declared, message: failure && failure.message }));
    process.exit(0);
})();
`;

/** Declares a BlueGreenService under the SDK's own mocks, with no shim: prints what was registered, or the failure. */
const PLAIN_MOCKS = `
const pulumi = require("@pulumi/pulumi");
const types = [];
let failure;
process.on("unhandledRejection", (e) => { failure = failure ?? e; });
pulumi.runtime.setMocks({
    newResource: (args) => { types.push(args.type); return { id: args.name + "-id", state: args.inputs }; },
    call: (args) => args.inputs,
}, "consumer", "dev", false).then(async () => {
    const k8s = require("@pulumi/kubernetes");
    const { BlueGreenService } = require("./components/blue-green-service");
    await pulumi.runtime.runInPulumiStack(async () => {
        const provider = new k8s.Provider("cluster", {});
        // With a query URL the health gate is on: its hook must not be bound either.
        new BlueGreenService("bg", { activeColor: "green", healthGate: { queryUrl: "http://127.0.0.1:9090/api/v1/query" } }, { providers: [provider] });
    }).catch((e) => { failure = failure ?? e; });
    await pulumi.runtime.waitForRPCs().catch((e) => { failure = failure ?? e; });
    console.log(JSON.stringify({ types, failure: failure && String(failure.message ?? failure) }));
});
`;

describe("BlueGreenService", () => {
    let mod: typeof bgs;
    let k8s: typeof import("@pulumi/kubernetes");
    let findDanglingReferences: typeof import("../components/references").findDanglingReferences;

    before(async () => {
        await useMocks();
        // Components are imported only after the mocks are in place (pulumi/pulumi#12141).
        mod = await import("../components/blue-green-service");
        k8s = await import("@pulumi/kubernetes");
        ({ findDanglingReferences } = await import("../components/references"));
    });

    /** Declares the component with a provider, as a program would. */
    async function declare(args: Partial<bgs.BlueGreenServiceArgs> = {}): Promise<Evaluation & { r: Resources; component?: bgs.BlueGreenService }> {
        let component: bgs.BlueGreenService | undefined;
        const ev = await evaluate(() => {
            const provider = new k8s.Provider("cluster", {});
            component = new mod.BlueGreenService("bg", { activeColor: "blue", ...args }, { providers: [provider] });
        });
        return { ...ev, r: new Resources(ev.resources), component };
    }

    it("declares the namespace labelled for sidecar injection", async () => {
        const { r } = await declare();
        const ns = r.get(T.namespace, "bg-namespace");
        assert.equal(ns.inputs.metadata.name, "sample-ns");
        assert.equal(ns.inputs.metadata.labels["istio-injection"], "enabled");
        assert.equal(ns.inputs.metadata.labels["istio.io/rev"], undefined);
    });

    it("enforces Pod Security baseline on the namespace and audits against restricted (no warn)", async () => {
        const labels = (await declare()).r.get(T.namespace, "bg-namespace").inputs.metadata.labels;
        assert.equal(labels["pod-security.kubernetes.io/enforce"], "baseline");
        assert.equal(labels["pod-security.kubernetes.io/audit"], "restricted");
        assert.equal(Object.keys(labels).some((k) => k.startsWith("pod-security.kubernetes.io/warn")), false,
            "warn: restricted would print a warning on every apply (nginx's master runs as root)");
        const privileged = (await declare({ podSecurity: "privileged" })).r.get(T.namespace, "bg-namespace").inputs.metadata.labels;
        assert.equal(privileged["pod-security.kubernetes.io/enforce"], "privileged");
        const refused = await declare({ podSecurity: "restricted" as any });
        assert.match(refused.error?.message ?? "", /podSecurity: got "restricted"; allowed values: baseline, privileged/);
    });

    it("with createNamespace false owns no Namespace: it labels the existing one by server-side apply under its own field manager", async () => {
        const { r, component } = await declare({ createNamespace: false, istioRevision: "asm-1-31", podSecurity: "privileged" });
        assert.equal(r.ofType(T.namespace).length, 0, "no Namespace object: deleting the stack must not delete a shared namespace");
        const patch = r.get(T.namespacePatch, "bg-namespace-labels");
        assert.equal(patch.inputs.metadata.name, "sample-ns");
        assert.deepEqual(patch.inputs.metadata.labels, {
            "istio.io/rev": "asm-1-31", "pod-security.kubernetes.io/enforce": "privileged", "pod-security.kubernetes.io/audit": "restricted",
        });
        assert.deepEqual(patch.inputs.metadata.annotations, { "pulumi.com/patchFieldManager": "gke-istio-bluegreen-nginx" });
        assert.equal(patch.inputs.metadata.annotations["pulumi.com/patchForce"], undefined, "never forced over someone else's labels");
        // Everything in the namespace still waits for its labels (injection must be on before pods start).
        for (const d of r.ofType(T.deployment)) assert.ok(d.dependsOn.includes(patch.urn), d.name);
        assert.ok(r.get(T.service, "bg-service").dependsOn.includes(patch.urn));
        assert.equal(await valueOf(component!.namespaceName), "sample-ns");
    });

    it("lets two apps share one namespace: no Namespace object twice, the same labels from two field managers", async () => {
        const ev = await evaluate(() => {
            const provider = new k8s.Provider("cluster", {});
            for (const app of ["shop", "cart"]) {
                new mod.BlueGreenService(app, { activeColor: "blue", appName: app, namespace: "team-a", createNamespace: false, hosts: [`${app}.example.com`] },
                    { providers: [provider] });
            }
        });
        assert.equal(ev.error, undefined);
        const r = new Resources(ev.resources);
        assert.equal(r.ofType(T.namespace).length, 0);
        const patches = r.ofType(T.namespacePatch);
        assert.deepEqual(patches.map((p) => p.inputs.metadata.name), ["team-a", "team-a"]);
        assert.deepEqual(patches.map((p) => p.inputs.metadata.annotations["pulumi.com/patchFieldManager"]).sort(),
            ["gke-istio-bluegreen-cart", "gke-istio-bluegreen-shop"]);
        assert.deepEqual(patches[0].inputs.metadata.labels, patches[1].inputs.metadata.labels, "same values: co-owned, no conflict");
        // Every object that lands in the namespace is unique by kind and name.
        const keys = r.all.filter((x) => x.custom && x.inputs.kind && x.inputs.metadata?.namespace === "team-a")
            .map((x) => `${x.inputs.kind}/${x.inputs.metadata.name}`);
        assert.equal(new Set(keys).size, keys.length, keys.join(", "));
    });

    it("refuses a createNamespace that is not a boolean before declaring anything", async () => {
        const refused = await declare({ createNamespace: "no" as any });
        assert.match(refused.error?.message ?? "", /createNamespace: got "no"; allowed values: true, false/);
        assert.deepEqual(refused.resources.filter((x) => x.type !== T.provider && x.type !== "pulumi:pulumi:Stack").map((x) => x.type), []);
    });

    it("uses the revision label instead of istio-injection when a revision is given (never both)", async () => {
        const { r } = await declare({ istioRevision: "asm-1-31" });
        const labels = r.get(T.namespace, "bg-namespace").inputs.metadata.labels;
        assert.equal(labels["istio.io/rev"], "asm-1-31");
        assert.equal(labels["istio-injection"], undefined);
    });

    it("declares one Deployment per color with its own labels, image and replicas", async () => {
        const { r } = await declare({ colors: { blue: { image: "nginx:1.27.5", replicas: 3 }, green: { image: "nginx:1.28.0", replicas: 1 } } });
        const expected = { blue: ["nginx:1.27.5", 3], green: ["nginx:1.28.0", 1] } as const;
        for (const color of COLORS) {
            const d = r.get(T.deployment, `bg-${color}`).inputs;
            assert.equal(d.metadata.name, `nginx-${color}`);
            assert.equal(d.metadata.namespace, "sample-ns");
            assert.equal(d.spec.replicas, expected[color][1]);
            assert.deepEqual(d.spec.selector.matchLabels, { app: "nginx", version: color });
            const pod = d.spec.template;
            assert.equal(pod.metadata.labels.app, "nginx");
            assert.equal(pod.metadata.labels.version, color);
            assert.equal(pod.metadata.labels["app.kubernetes.io/name"], "nginx");
            assert.equal(pod.metadata.labels["app.kubernetes.io/instance"], `nginx-${color}`);
            const [container] = pod.spec.containers;
            assert.equal(container.image, expected[color][0]);
            assert.deepEqual(container.ports, [{ name: "http", containerPort: 80, protocol: "TCP" }]);
            assert.equal(container.readinessProbe.httpGet.port, "http");
            assert.equal(container.livenessProbe.httpGet.port, "http");
            assert.ok(container.resources.requests.cpu && container.resources.requests.memory);
            assert.ok(container.resources.limits.cpu && container.resources.limits.memory);
        }
    });

    it("hardens the nginx container as far as the stock image allows", async () => {
        const { r } = await declare();
        const pod = r.get(T.deployment, "bg-green").inputs.spec.template.spec;
        assert.deepEqual(pod.securityContext.seccompProfile, { type: "RuntimeDefault" });
        const [container] = pod.containers;
        const sc = container.securityContext;
        assert.equal(sc.allowPrivilegeEscalation, false);
        assert.equal(sc.privileged, false);
        assert.equal(sc.readOnlyRootFilesystem, true);
        assert.deepEqual(sc.capabilities.drop, ["ALL"]);
        assert.deepEqual([...sc.capabilities.add].sort(), ["CHOWN", "NET_BIND_SERVICE", "SETGID", "SETUID"]);
        // Every path nginx writes to is an emptyDir, since the root filesystem is read-only.
        const mounts = Object.fromEntries(container.volumeMounts.map((m: any) => [m.mountPath, m.name]));
        assert.deepEqual(Object.keys(mounts).sort(), ["/run", "/var/cache/nginx"]);
        for (const volume of pod.volumes) assert.deepEqual(volume.emptyDir, {});
        assert.deepEqual(pod.volumes.map((v: any) => v.name).sort(), Object.values(mounts).sort());
    });

    it("declares a Service on 40001 -> 80 named http that selects the app, never a color", async () => {
        const { r } = await declare();
        const svc = r.get(T.service, "bg-service").inputs;
        assert.equal(svc.metadata.name, "nginx");
        assert.deepEqual(svc.spec.selector, { app: "nginx" });
        assert.deepEqual(svc.spec.ports, [{ name: "http", port: 40001, targetPort: 80, protocol: "TCP", appProtocol: "http" }]);
    });

    it("declares a networking.istio.io/v1 Gateway bound to the ingress gateway pods", async () => {
        const { r } = await declare({ gatewaySelector: { istio: "ingress" }, hosts: ["a.example.com", "b.example.com"] });
        const gw = r.only("Gateway").inputs;
        assert.equal(gw.apiVersion, "networking.istio.io/v1");
        assert.equal(gw.metadata.name, "nginx-gateway");
        assert.deepEqual(gw.spec.selector, { istio: "ingress" });
        assert.deepEqual(gw.spec.servers, [{ port: { number: 80, name: "http", protocol: "HTTP" }, hosts: ["a.example.com", "b.example.com"] }]);
        const defaults = (await declare()).r.only("Gateway").inputs;
        assert.deepEqual(defaults.spec.selector, { istio: "ingressgateway" });
        assert.deepEqual(defaults.spec.servers[0].hosts, ["sample.hoge.com"]);
    });

    it("declares a DestinationRule for the Service FQDN with both subsets and the LB policy", async () => {
        for (const loadBalancer of ["ROUND_ROBIN", "LEAST_REQUEST", "RANDOM"] as const) {
            for (const activeColor of COLORS) {
                const dr = (await declare({ loadBalancer, activeColor })).r.only("DestinationRule").inputs;
                assert.equal(dr.spec.host, "nginx.sample-ns.svc.cluster.local");
                assert.deepEqual(dr.spec.subsets.map((s: any) => [s.name, s.labels.version]), [["blue", "blue"], ["green", "green"]]);
                assert.equal(dr.spec.trafficPolicy.loadBalancer.simple, loadBalancer);
            }
        }
    });

    for (const activeColor of COLORS) {
        it(`routes the declared VirtualService by header, and everything else to ${activeColor}`, async () => {
            const vs = (await declare({ activeColor })).r.only("VirtualService").inputs;
            // Bound to the ingress gateway and to the mesh, so in-mesh callers follow the switch too.
            assert.deepEqual(vs.spec.hosts, ["sample.hoge.com", "nginx.sample-ns.svc.cluster.local"]);
            assert.deepEqual(vs.spec.gateways, ["sample-ns/nginx-gateway", "mesh"]);
            const to = (headers?: Record<string, string>) => routeRequest(vs.spec, { headers })?.destinations;
            assert.deepEqual(to({ "x-version": "blue" }), [{ subset: "blue", weight: 100 }]);
            assert.deepEqual(to({ "x-version": "green" }), [{ subset: "green", weight: 100 }]);
            assert.deepEqual(to({ "x-version": "unknown" }), [{ subset: activeColor, weight: 100 }]);
            assert.deepEqual(to(), [{ subset: activeColor, weight: 100 }]);
        });
    }

    it("declares ServiceEntries for external endpoints", async () => {
        const { r } = await declare({
            externalServices: [{ name: "orders-db", hosts: ["orders-db.example.com"], ports: [{ number: 5432, protocol: "TCP" }] }],
        });
        const se = r.only("ServiceEntry").inputs;
        assert.equal(se.metadata.name, "orders-db");
        assert.equal(se.metadata.namespace, "sample-ns");
        assert.deepEqual(se.spec, {
            hosts: ["orders-db.example.com"], exportTo: ["."], location: "MESH_EXTERNAL", resolution: "DNS",
            ports: [{ number: 5432, name: "tcp-5432", protocol: "TCP" }],
        });
        assert.equal((await declare()).r.ofKind("ServiceEntry").length, 0);
    });

    it("names every object explicitly and every reference resolves to a declared object", async () => {
        const { r } = await declare({ externalServices: [{ name: "db", hosts: ["db.example.com"], ports: [{ number: 5432, protocol: "TCP" }] }] });
        const objects = r.all.filter((x) => x.custom && x.inputs.kind).map((x) => x.inputs as KubernetesObject);
        assert.equal(objects.length, 12);
        for (const o of objects) {
            assert.ok(o.metadata.name, `${o.kind} has a name`);
            // The preview policy of the gateway lives with the gateway's pods.
            const gatewayLevel = o.kind === "AuthorizationPolicy" && o.metadata.name === "sample-ns-nginx-preview-x-version";
            if (o.kind !== "Namespace") assert.equal(o.metadata.namespace, gatewayLevel ? "istio-system" : "sample-ns", `${o.kind} has a namespace`);
        }
        assert.deepEqual(findDanglingReferences(objects), []);
        // The checker does catch a dangling name.
        const broken = objects.map((o) => o.kind === "Gateway" ? { ...o, metadata: { ...o.metadata, name: "other" } } : o);
        assert.deepEqual(findDanglingReferences(broken), ["VirtualService sample-ns/nginx: gateway sample-ns/nginx-gateway is not a declared Gateway"]);
    });

    it("parents every child to the component and gives it the provider", async () => {
        const { r } = await declare();
        const component = r.get(T.component, "bg");
        const provider = r.get(T.provider, "cluster");
        const children = r.all.filter((x) => x.parent === component.urn);
        assert.equal(children.length, 11);
        for (const child of children) {
            assert.ok(child.provider?.startsWith(`${provider.urn}::`), `${child.name} uses the cluster provider`);
        }
    });

    it("orders the objects: namespace first, the VirtualService after what it names", async () => {
        const { r } = await declare();
        const ns = r.get(T.namespace, "bg-namespace").urn;
        for (const child of r.all.filter((x) => x.custom && x.inputs.kind && x.inputs.kind !== "Namespace")) {
            assert.ok(child.dependsOn.includes(ns), `${child.name} waits for the namespace`);
        }
        const vs = r.only("VirtualService");
        for (const kind of ["Gateway", "DestinationRule"]) assert.ok(vs.dependsOn.includes(r.only(kind).urn), `VirtualService waits for the ${kind}`);
        assert.ok(vs.dependsOn.includes(r.get(T.service, "bg-service").urn));
    });

    it("makes every Istio object and every Deployment wait for the given mesh resources", async () => {
        const { resources } = await evaluate(() => {
            const provider = new k8s.Provider("cluster", {});
            // Stands in for the mesh install; the mesh component passes its istiod release here.
            const mesh = new k8s.core.v1.Namespace("mesh", { metadata: { name: "istio-system" } }, { provider });
            new mod.BlueGreenService("bg", { activeColor: "blue" }, { providers: [provider], istioDependencies: [mesh] });
        });
        const r = new Resources(resources);
        const mesh = r.get(T.namespace, "mesh");
        for (const kind of ["Gateway", "DestinationRule", "VirtualService"]) {
            assert.ok(r.only(kind).dependsOn.includes(mesh.urn), `${kind} waits for the mesh`);
        }
        // Pods created before istiod's injection webhook is up would run without a sidecar.
        for (const deployment of r.ofType(T.deployment)) assert.ok(deployment.dependsOn.includes(mesh.urn), `${deployment.name} waits for the mesh`);
        assert.ok(!r.get(T.service, "bg-service").dependsOn.includes(mesh.urn), "the Service need not wait");
    });

    it("exposes its outputs, including curl commands for each color", async () => {
        const { component } = await declare({ activeColor: "green", ingressAddress: "203.0.113.10" });
        assert.ok(component);
        assert.equal(await valueOf(component.activeColor), "green");
        assert.equal(await valueOf(component.idleColor), "blue");
        assert.equal(await valueOf(component.namespaceName), "sample-ns");
        assert.deepEqual(await valueOf(component.hosts), ["sample.hoge.com"]);
        assert.equal(await valueOf(component.serviceAddress), "nginx.sample-ns.svc.cluster.local:40001");
        assert.deepEqual(await valueOf(component.curlCommands), {
            blue: "curl -sS -H 'Host: sample.hoge.com' -H 'x-version: blue' http://203.0.113.10/",
            green: "curl -sS -H 'Host: sample.hoge.com' -H 'x-version: green' http://203.0.113.10/",
            default: "curl -sS -H 'Host: sample.hoge.com' http://203.0.113.10/",
        });
    });

    it("declares a PodDisruptionBudget per color that never blocks a drain", async () => {
        const { r } = await declare();
        for (const color of COLORS) {
            const pdb = r.get("kubernetes:policy/v1:PodDisruptionBudget", `bg-${color}-pdb`).inputs;
            assert.equal(pdb.metadata.name, `nginx-${color}`);
            assert.deepEqual(pdb.spec, { maxUnavailable: 1, selector: { matchLabels: { app: "nginx", version: color } } });
        }
    });

    it("sizes only the idle color with idleReplicas, and refuses idle traffic to zero pods", async () => {
        const { r } = await declare({ activeColor: "green", idleReplicas: 1, colors: { blue: { image: "nginx:1.27.5", replicas: 4 }, green: { image: "nginx:1.28.0", replicas: 4 } } });
        assert.equal(r.get(T.deployment, "bg-blue").inputs.spec.replicas, 1);
        assert.equal(r.get(T.deployment, "bg-green").inputs.spec.replicas, 4);
        const ev = await declare({ activeColor: "blue", idleReplicas: 0, trafficWeights: { blue: 80, green: 20 } });
        assert.match(ev.error?.message ?? "", /idleReplicas: is 0 but trafficWeights sends 20% to green/);
    });

    it("serves HTTPS with a cert-manager Certificate in the gateway's namespace, and redirects HTTP", async () => {
        const { r, component } = await declare({
            hosts: ["shop.example.com"],
            tls: { credentialName: "shop-tls", httpsRedirect: true, gatewayNamespace: "istio-ingress", certificate: { issuerName: "letsencrypt" } },
        });
        const gw = r.only("Gateway").inputs.spec;
        assert.deepEqual(gw.servers, [
            { port: { number: 80, name: "http", protocol: "HTTP" }, hosts: ["shop.example.com"], tls: { httpsRedirect: true } },
            { port: { number: 443, name: "https", protocol: "HTTPS" }, hosts: ["shop.example.com"], tls: { mode: "SIMPLE", credentialName: "shop-tls" } },
        ]);
        const cert = r.only("Certificate");
        assert.equal(cert.inputs.apiVersion, "cert-manager.io/v1");
        assert.deepEqual(cert.inputs.metadata.namespace, "istio-ingress");
        assert.deepEqual(cert.inputs.spec, { secretName: "shop-tls", dnsNames: ["shop.example.com"], issuerRef: { name: "letsencrypt", kind: "ClusterIssuer", group: "cert-manager.io" } });
        assert.ok(r.only("Gateway").dependsOn.includes(cert.urn), "the Gateway waits for its certificate");
        assert.match((await valueOf(component!.curlCommands)).green, /^curl -sS --resolve 'shop.example.com:443:\$INGRESS_IP' -H 'x-version: green' https:\/\/shop.example.com\/$/);
        const plain = (await declare({ tls: { credentialName: "t", httpsRedirect: false, gatewayNamespace: "istio-ingress" } })).r;
        assert.equal(plain.ofKind("Certificate").length, 0);
        assert.equal(plain.only("Gateway").inputs.spec.servers[0].tls, undefined);
    });

    it("puts timeouts, retries, outlier detection and connection limits in place by default", async () => {
        const { r } = await declare({ resilience: { timeout: "30s" } });
        for (const route of r.only("VirtualService").inputs.spec.http) {
            assert.equal(route.timeout, "30s");
            assert.deepEqual(route.retries, { attempts: 2, perTryTimeout: "5s", retryOn: "connect-failure,refused-stream,reset-before-request" });
        }
        const policy = r.only("DestinationRule").inputs.spec.trafficPolicy;
        assert.deepEqual(policy.outlierDetection, { consecutive5xxErrors: 5, interval: "10s", baseEjectionTime: "30s", maxEjectionPercent: 50 });
        assert.equal(policy.connectionPool.tcp.maxConnections, 1024);
    });

    it("leaves in-mesh callers alone when meshRouting is off", async () => {
        const vs = (await declare({ meshRouting: false })).r.only("VirtualService").inputs.spec;
        assert.deepEqual(vs.gateways, ["sample-ns/nginx-gateway"]);
        assert.deepEqual(vs.hosts, ["sample.hoge.com"]);
    });

    /**
     * Colors the declared VirtualService sends traffic to, read from the spec itself: a share of
     * the catch-all, a targeted rule or a mirror. The `<header>: <color>` test routes do not count.
     */
    const receiversIn = (vs: any, headerName = "x-version"): string[] => {
        const colors = new Set<string>();
        for (const route of vs.spec.http) {
            const testRoute = route.match?.length === 1 && Object.keys(route.match[0]).length === 1 &&
                route.match[0].headers?.[headerName]?.exact === route.route[0].destination.subset;
            if (testRoute) continue;
            for (const d of route.route) if ((d.weight ?? 100) > 0) colors.add(d.destination.subset);
            for (const m of route.mirrors ?? []) colors.add(m.destination.subset);
        }
        return [...colors].sort();
    };

    /** Fails on a dependsOn cycle among the recorded resources. */
    const assertAcyclic = (resources: Resources) => {
        const state = new Map<string, "visiting" | "done">();
        const visit = (urn: string, path: string[]) => {
            if (state.get(urn) === "done") return;
            assert.notEqual(state.get(urn), "visiting", `dependency cycle: ${[...path, urn].join(" -> ")}`);
            state.set(urn, "visiting");
            for (const dep of resources.byUrn(urn)?.dependsOn ?? []) visit(dep, [...path, urn]);
            state.set(urn, "done");
        };
        for (const r of resources.all) visit(r.urn, []);
    };

    describe("make-before-break order for every traffic configuration", () => {
        const full = { blue: { image: "nginx:1.27.5", replicas: 2 }, green: { image: "nginx:1.28.0", replicas: 2 } };
        const greenUsers = { name: "beta-users", color: "green" as const, headers: { "x-beta": { exact: "on" } } };
        const blueUsers = { name: "legacy-users", color: "blue" as const, headers: { "x-legacy": { exact: "on" } } };
        const cases: [string, Partial<bgs.BlueGreenServiceArgs>][] = [];
        for (const activeColor of COLORS) {
            for (const [w, trafficWeights] of [["no split", undefined], ["100/0", { blue: 100, green: 0 }], ["90/10", { blue: 90, green: 10 }],
                ["0/100", { blue: 0, green: 100 }]] as const) {
                for (const [t, targetedRoutes] of [["no rules", []], ["rule to green", [greenUsers]], ["rules to both", [greenUsers, blueUsers]]] as const) {
                    for (const mirrorToIdle of [0, 10]) {
                        for (const idleReplicas of [undefined, 0]) {
                            cases.push([`active ${activeColor}, ${w}, ${t}, mirror ${mirrorToIdle}, idle ${idleReplicas ?? "full"}`,
                                { activeColor, trafficWeights, targetedRoutes: [...targetedRoutes], mirrorToIdle, idleReplicas, colors: full }]);
                        }
                    }
                }
            }
        }

        it(`orders route and Deployments by who receives traffic, with no cycle, in all ${cases.length} combinations`, async () => {
            const covered = new Set<string>();
            for (const [label, args] of cases) {
                const { r, error } = await declare(args);
                if (error) {
                    // Refused combinations (traffic to a parked color, a mirror with a split) declare nothing.
                    assert.equal(r.ofType(T.deployment).length, 0, label);
                    continue;
                }
                if (args.idleReplicas === 0) covered.add("a parked color");
                if (args.mirrorToIdle) covered.add("a mirror");
                if (args.trafficWeights?.green === 10) covered.add("a canary split");
                if (args.targetedRoutes?.length === 2) covered.add("rules to both colors");
                const vs = r.only("VirtualService");
                const receivers = receiversIn(vs.inputs);
                assert.ok(receivers.length > 0, label);
                for (const color of COLORS) {
                    const d = r.get(T.deployment, `bg-${color}`);
                    if (receivers.includes(color)) {
                        assert.ok(vs.dependsOn.includes(d.urn), `${label}: the route waits for ${color}, which receives traffic`);
                        assert.ok(!d.dependsOn.includes(vs.urn), `${label}: ${color} does not wait for the route`);
                    } else {
                        assert.ok(d.dependsOn.includes(vs.urn), `${label}: ${color}, receiving nothing, changes only after the route`);
                        assert.ok(!vs.dependsOn.includes(d.urn), `${label}: the route does not wait for ${color}`);
                    }
                }
                assertAcyclic(r);
            }
            assert.deepEqual([...covered].sort(), ["a canary split", "a mirror", "a parked color", "rules to both colors"], "each kind of configuration was accepted at least once");
        });

        it("a plain switch changes only which edges point where, not any Deployment's inputs", async () => {
            const blue = (await declare({ activeColor: "blue" })).r;
            const green = (await declare({ activeColor: "green" })).r;
            for (const color of COLORS) {
                assert.deepEqual(blue.get(T.deployment, `bg-${color}`).inputs, green.get(T.deployment, `bg-${color}`).inputs, color);
            }
            assert.ok(blue.get(T.deployment, "bg-green").dependsOn.includes(blue.only("VirtualService").urn));
            assert.ok(green.only("VirtualService").dependsOn.includes(green.get(T.deployment, "bg-green").urn));
        });
    });

    it("lets each pod drain before it stops: preStop sleep, a longer grace period, a native sidecar", async () => {
        const { r } = await declare();
        for (const color of COLORS) {
            const pod = r.get(T.deployment, `bg-${color}`).inputs.spec.template;
            assert.deepEqual(pod.spec.containers[0].lifecycle, { preStop: { sleep: { seconds: 30 } } });
            assert.equal(pod.spec.terminationGracePeriodSeconds, 45);
            assert.equal(pod.metadata.annotations["sidecar.istio.io/nativeSidecar"], "true");
        }
        const exec = (await declare({ drainDelaySeconds: 10, drainAction: "exec" })).r.get(T.deployment, "bg-blue").inputs.spec.template.spec;
        assert.deepEqual(exec.containers[0].lifecycle, { preStop: { exec: { command: ["/bin/sleep", "10"] } } });
        assert.equal(exec.terminationGracePeriodSeconds, 25);
        const off = (await declare({ drainDelaySeconds: 0 })).r.get(T.deployment, "bg-blue").inputs.spec.template.spec;
        assert.equal(off.containers[0].lifecycle, undefined);
    });

    it("bounds each rollout with the rollout timeout and reports a failed one", async () => {
        const { r } = await declare({ rolloutTimeoutSeconds: 45 });
        for (const color of COLORS) {
            const d = r.get(T.deployment, `bg-${color}`);
            assert.deepEqual(d.customTimeouts, { create: "45s", update: "45s" });
            assert.deepEqual(d.errorHooks, ["bg-rollout-failed"]);
        }
        assert.deepEqual((await declare()).r.get(T.deployment, "bg-blue").customTimeouts, { create: "600s", update: "600s" });
        const bad = await declare({ rolloutTimeoutSeconds: 0, drainDelaySeconds: 1.5 });
        assert.match(bad.error?.message ?? "", /rolloutTimeoutSeconds: got 0; allowed values: a whole number from 10 to 7200/);
        assert.match(bad.error?.message ?? "", /drainDelaySeconds: got 1.5/);
    });

    it("runs under the SDK's plain mocks, whose monitor cannot register hooks, without binding the hooks there", () => {
        const result = spawnSync(process.execPath, ["-r", "ts-node/register/transpile-only", "-e", PLAIN_MOCKS], {
            cwd: path.join(__dirname, ".."), encoding: "utf8", timeout: 50_000,
        });
        const report = JSON.parse(result.stdout.trim().split("\n").pop() ?? "{}");
        assert.equal(report.failure, undefined, `no crash under plain setMocks: ${result.stderr}`);
        assert.equal(report.types.filter((t: string) => t === T.deployment).length, 2, "both Deployments were declared");
        assert.ok(report.types.includes("kubernetes:networking.istio.io/v1:VirtualService"));
    });

    it("takes an image from another resource (an Output) and checks it when it resolves, failing the update with the same message", async function () {
        this.timeout(60_000);
        const pulumi = await import("@pulumi/pulumi");
        const built = await declare({ colors: { blue: { image: pulumi.output("registry.example.com/shop:2.0.1"), replicas: 2 } } });
        assert.equal(built.error, undefined);
        assert.equal(built.r.get(T.deployment, "bg-blue").inputs.spec.template.spec.containers[0].image, "registry.example.com/shop:2.0.1");
        const known = await declare({ colors: { blue: { image: "nginx:latest", replicas: 2 } } });
        const expected = known.error?.message ?? "";
        assert.match(expected, /colors\.blue\.image/);
        // Resolved later: the Deployment's registration fails when the bad value arrives. A failed
        // registration leaves the mock engine unusable, so this runs in a process of its own.
        const result = spawnSync(process.execPath, ["-r", "ts-node/register/transpile-only", "-e", RESOLVED_BAD_IMAGE], {
            cwd: path.join(__dirname, ".."), encoding: "utf8", timeout: 50_000,
        });
        const failure = JSON.parse(result.stdout.trim().split("\n").pop() ?? "{}");
        assert.equal(failure.declared, true, "everything before the failure was declared: nothing was refused up front");
        assert.ok(typeof failure.message === "string" && failure.message.endsWith(expected), `the ConfigError text, verbatim: ${result.stdout}${result.stderr}`);
    });

    it("refuses bad arguments before declaring any child", async () => {
        const ev = await declare({ activeColor: "purple" as any, colors: { blue: { image: "nginx:latest", replicas: -1 } } });
        assert.ok(ev.error);
        assert.match(ev.error.message, /activeColor: got "purple"; allowed values: blue, green/);
        assert.match(ev.error.message, /colors\.blue\.image/);
        assert.match(ev.error.message, /colors\.blue\.replicas/);
        assert.equal(ev.r.ofType(T.namespace).length + ev.r.ofType(T.deployment).length + ev.r.ofKind("VirtualService").length, 0);
    });
});
