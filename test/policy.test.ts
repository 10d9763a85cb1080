import * as assert from "node:assert/strict";
import type { ResourceValidationPolicy, StackValidationPolicy } from "@pulumi/policy";
import { COLORS } from "../components/routing";
import { evaluate, useMocks } from "../offline/engine";
import { loadProgram } from "../offline/program";
import { loadStackConfig } from "../offline/stack-files";
import { policies } from "../policy/policies";
import { TYPES } from "../policy/rules";
import { PolicyInput, messages, runPolicy } from "./policy-harness";
import { PROGRESSIVE_CONFIGS } from "./progressive-configs";

type AnyPolicy = ResourceValidationPolicy | StackValidationPolicy;
const policy = (name: string) => policies.find((p) => p.name === name) as AnyPolicy;

// Hand-built resources, as the engine would pass their properties.
const host = "nginx.sample-ns.svc.cluster.local";
const ns = (labels: Record<string, string> = { "istio-injection": "enabled" }, name = "sample-ns"): PolicyInput =>
    ({ type: TYPES.namespace, props: { metadata: { name, labels } } });
const deployment = (color: string, replicas: number, container: Record<string, any> = {}): PolicyInput => ({
    type: TYPES.deployment,
    name: `nginx-${color}`,
    props: {
        metadata: { name: `nginx-${color}`, namespace: "sample-ns" },
        spec: {
            replicas,
            template: {
                metadata: { labels: { app: "nginx", version: color } },
                spec: {
                    containers: [{
                        name: "nginx", image: "nginx:1.27.5",
                        resources: { requests: { cpu: "50m", memory: "64Mi" }, limits: { cpu: "500m", memory: "128Mi" } },
                        securityContext: { allowPrivilegeEscalation: false, privileged: false },
                        ...container,
                    }],
                },
            },
        },
    },
});
const service = (port: Record<string, any> = { name: "http", port: 40001, targetPort: 80 }): PolicyInput =>
    ({ type: TYPES.service, props: { metadata: { name: "nginx", namespace: "sample-ns" }, spec: { selector: { app: "nginx" }, ports: [port] } } });
const destinationRule = (subsets = ["blue", "green"]): PolicyInput => ({
    type: TYPES.destinationRule,
    props: { kind: "DestinationRule", metadata: { name: "nginx", namespace: "sample-ns" }, spec: { host, subsets: subsets.map((s) => ({ name: s, labels: { version: s } })) } },
});
const route = (name: string, subset: string, weight = 100) => ({ name, route: [{ destination: { host, subset, port: { number: 40001 } }, weight }] });
const virtualService = (http = [route("x-version-blue", "blue"), route("x-version-green", "green"), route("default", "blue")]): PolicyInput => ({
    type: TYPES.virtualService,
    props: { kind: "VirtualService", metadata: { name: "nginx", namespace: "sample-ns" }, spec: { hosts: ["sample.hoge.com"], gateways: ["sample-ns/nginx-gateway"], http } },
});
const workload = (): PolicyInput[] => [ns(), deployment("blue", 2), deployment("green", 2), service(), destinationRule(), virtualService()];

describe("policy pack", () => {
    it("has every policy mandatory except the limits advisory, each described", () => {
        for (const p of policies) {
            assert.ok(p.description.length > 20, p.name);
            assert.equal(p.enforcementLevel, ["resource-limits-set", "color-header-restricted", "preview-sources-not-everyone"].includes(p.name) ? "advisory" : "mandatory", p.name);
        }
        assert.equal(policies.length, 13);
    });

    it("injected-revision-installed: the namespace's revision is one the stack installs or the pack declares", async () => {
        const p = policy("injected-revision-installed");
        const istiod = (revision?: string): PolicyInput => ({
            type: TYPES.release, props: { name: revision ? `istiod-${revision}` : "istiod", chart: "istiod", values: revision ? { revision } : {} },
        });
        assert.deepEqual(await messages(p, [ns(), istiod()]), []);
        assert.deepEqual(await messages(p, [ns({ "istio.io/rev": "canary" }), istiod("canary")]), []);
        // The trap: a revision label while the stack installs only the default istiod.
        assert.deepEqual(await messages(p, [ns({ "istio.io/rev": "canary" }), istiod()]), [
            "Namespace sample-ns is injected by revision canary, but no istiod of that revision is installed or declared (known: default): its pods would start without a sidecar",
        ]);
        assert.equal((await messages(p, [ns(), istiod("canary")])).length, 1, "istio-injection=enabled needs the default revision");
        // Colors pinned on their pod templates (issue 23).
        const pinned = (revision: string): PolicyInput => ({ type: TYPES.deployment,
            props: { metadata: { name: "nginx-green", namespace: "sample-ns" }, spec: { template: { metadata: { labels: { "istio.io/rev": revision } } } } } });
        assert.deepEqual(await messages(p, [ns(), istiod(), istiod("1-31-4"), pinned("1-31-4"), pinned("default")]), []);
        assert.deepEqual(await messages(p, [ns(), istiod(), pinned("1-32-0")]), [
            "Deployment sample-ns/nginx-green pins its pods to revision 1-32-0, but no istiod of that revision is installed or declared (known: default): its pods would start without a sidecar",
        ]);
        // A mesh managed elsewhere: declared in the pack config, or nothing to compare against.
        assert.deepEqual(await messages(p, [ns({ "istio.io/rev": "asm-1-31" })]), []);
        assert.deepEqual(await messages(p, [ns({ "istio.io/rev": "asm-1-31" })], { istioRevisions: ["asm-1-31"] }), []);
        assert.equal((await messages(p, [ns({ "istio.io/rev": "asm-1-30" })], { istioRevisions: ["asm-1-31"] })).length, 1);
        assert.deepEqual(await messages(p, [ns(), { type: TYPES.release, props: { chart: "/srv/charts/istiod", values: {} } }]), [], "a local chart path");
    });

    it("color-header-restricted (advisory): flags color header routes no DENY policy at the gateway guards", async () => {
        const p = policy("color-header-restricted");
        const headerRoute = (color: string) => ({ ...route(`x-version-${color}`, color), match: [{ headers: { "x-version": { exact: color } } }] });
        const gateway: PolicyInput = { type: TYPES.gateway, props: { metadata: { name: "nginx-gateway", namespace: "sample-ns" },
            spec: { selector: { istio: "ingress" }, servers: [{ port: { number: 80 }, hosts: ["sample.hoge.com"] }] } } };
        const routed = () => [...workload().slice(0, -1), gateway, virtualService([headerRoute("blue"), headerRoute("green"), route("default", "blue")])];
        assert.deepEqual(await messages(p, workload()), [], "no header routes, nothing to guard");
        const unguarded = "VirtualService sample-ns/nginx sends requests carrying x-version to the color they name, and no DENY AuthorizationPolicy at the pods of " +
            "Gateway sample-ns/nginx-gateway restricts that header for every host form it routes (sample.hoge.com, sample.hoge.com:*): " +
            "anyone who reaches the gateway reaches the idle color (set previewAccess: restricted)";
        assert.deepEqual(await messages(p, routed()), [unguarded]);
        const policyWith = (spec: Record<string, any>): PolicyInput => ({ type: TYPES.authorizationPolicy, props: { spec: {
            selector: { matchLabels: { istio: "ingress" } }, action: "DENY", rules: [{ when: [{ key: "request.headers[x-version]", values: ["blue", "green"] }] }], ...spec,
        } } });
        assert.deepEqual(await messages(p, [...routed(), policyWith({})]), [], "the gateway's DENY policy on the header");
        assert.deepEqual(await messages(p, [...routed(), policyWith({ rules: [{ from: [{ source: { notRemoteIpBlocks: ["203.0.113.0/24"] } }],
            when: [{ key: "request.headers[x-version]", values: ["blue", "green"] }] }] })]), [], "...exempting allowed callers");
        // Policies that do not stop the request at the gateway.
        const notGuards: Record<string, PolicyInput> = {
            "an ALLOW policy": policyWith({ action: "ALLOW" }),
            "a DENY policy at the workload (in-mesh callers only)": policyWith({ selector: { matchLabels: { app: "nginx" } } }),
            "a DENY policy without a selector": policyWith({ selector: undefined }),
            "a DENY policy at the gateway on another header": policyWith({ rules: [{ when: [{ key: "request.headers[x-other]", values: ["blue", "green"] }] }] }),
            "a DENY policy at the gateway on one color only": policyWith({ rules: [{ when: [{ key: "request.headers[x-version]", values: ["green"] }] }] }),
            "a DENY policy at the gateway that also needs another condition": policyWith({ rules: [{ when: [
                { key: "request.headers[x-version]", values: ["blue", "green"] }, { key: "request.headers[x-debug]", values: ["1"] }] }] }),
        };
        const onHosts = (hosts: string[]) => policyWith({ rules: [{ to: [{ operation: { hosts } }], when: [{ key: "request.headers[x-version]", values: ["blue", "green"] }] }] });
        assert.deepEqual(await messages(p, [...routed(), onHosts(["sample.hoge.com", "sample.hoge.com:*"])]), [], "...scoped to the app's hosts");
        notGuards["a DENY policy at the gateway for the bare host only (Host: sample.hoge.com:80 passes)"] = onHosts(["sample.hoge.com"]);
        notGuards["a DENY policy at the gateway for another app's hosts"] = onHosts(["shop.example.com", "shop.example.com:*"]);
        for (const [what, guard] of Object.entries(notGuards)) assert.deepEqual(await messages(p, [...routed(), guard]), [unguarded], what);
        const elsewhere = await messages(p, [...routed().filter((r) => r !== gateway), policyWith({})]);
        assert.deepEqual(elsewhere, ["VirtualService sample-ns/nginx sends requests carrying x-version to the color they name, and its Gateway " +
            "sample-ns/nginx-gateway is not in this stack, so no policy at the gateway's pods can be checked: anyone who reaches the gateway may reach the idle color"],
        "a Gateway the stack does not declare");
    });

    it("preview-sources-not-everyone (advisory): flags a DENY whose exempt addresses add up to everyone, passes narrower ones", async () => {
        const p = policy("preview-sources-not-everyone");
        const deny = (blocks: string[], action = "DENY", field = "notRemoteIpBlocks"): PolicyInput => ({
            type: TYPES.authorizationPolicy,
            props: { metadata: { name: "preview", namespace: "istio-ingress" }, spec: { action, rules: [{ from: [{ source: { [field]: blocks } }], when: [{ key: "request.headers[x-version]", values: ["blue", "green"] }] }] } },
        });
        const rows: [string[], number, string?, string?][] = [
            [["0.0.0.0/0"], 1],
            [["0.0.0.0/1", "128.0.0.0/1"], 1],
            [["128.0.0.0/2", "0.0.0.0/1", "192.0.0.0/2"], 1],
            [["::/0"], 1],
            [["0.0.0.0/0"], 1, "DENY", "notIpBlocks"],
            [["0.0.0.0/1"], 0],
            [["0.0.0.0/1", "128.0.0.0/2", "203.0.113.0/24"], 0],
            [["203.0.113.0/24", "198.51.100.7/32"], 0],
            [["0.0.0.0/0"], 0, "ALLOW"],
        ];
        for (const [blocks, expected, action, field] of rows) {
            const found = await messages(p, [...workload(), deny(blocks, action, field)]);
            assert.equal(found.length, expected, `${action ?? "DENY"} ${field ?? "notRemoteIpBlocks"} ${JSON.stringify(blocks)}: ${found.join("; ")}`);
            if (expected) assert.match(found[0], /cover every address: the DENY refuses nobody/);
        }
    });

    it("virtualservice-subsets-exist: passes defined subsets, flags a catch-all or header route to a missing one", async () => {
        assert.deepEqual(await messages(policy("virtualservice-subsets-exist"), workload()), []);
        assert.deepEqual(await messages(policy("virtualservice-subsets-exist"), [destinationRule(["blue"]), virtualService([route("x-version-green", "green"), route("default", "green")])]), [
            `VirtualService sample-ns/nginx: route x-version-green names subset green, which no DestinationRule for ${host} defines`,
            `VirtualService sample-ns/nginx: route default names subset green, which no DestinationRule for ${host} defines`,
        ]);
        assert.equal((await messages(policy("virtualservice-subsets-exist"), [virtualService()])).length, 3, "no DestinationRule at all");
    });

    it("traffic-goes-to-running-pods: refuses switching to a color scaled to zero, honours minReplicas", async () => {
        const p = policy("traffic-goes-to-running-pods");
        assert.deepEqual(await messages(p, workload()), []);
        const greenAtZero = [ns(), deployment("blue", 2), deployment("green", 0), destinationRule(),
            virtualService([route("x-version-blue", "blue"), route("x-version-green", "green"), route("default", "green")])];
        const found = await messages(p, greenAtZero);
        assert.equal(found.length, 2, "the header route and the catch-all both send to green");
        assert.match(found[1], /route default sends traffic to subset green, whose Deployments \(nginx-green\) have 0 replica\(s\); at least 1 required/);
        // A parked idle color is fine while nothing routes to it with weight.
        const parked = [deployment("blue", 2), deployment("green", 0), destinationRule(), virtualService([route("default", "blue"), route("canary", "green", 0)])];
        assert.deepEqual(await messages(p, parked), []);
        assert.equal((await messages(p, workload(), { minReplicas: 3 })).length, 3);
    });

    it("workload-namespaces-injected: needs istio-injection=enabled or istio.io/rev alone", async () => {
        const p = policy("workload-namespaces-injected");
        assert.deepEqual(await messages(p, workload()), []);
        assert.deepEqual(await messages(p, [ns({ "istio.io/rev": "canary" }), deployment("blue", 1)]), []);
        assert.deepEqual(await messages(p, [ns({}), deployment("blue", 1)]),
            ["Namespace sample-ns runs workloads but has no sidecar injection: label it istio-injection=enabled (or istio.io/rev alone)"]);
        assert.equal((await messages(p, [ns({ "istio-injection": "disabled" }), deployment("blue", 1)])).length, 1);
        assert.equal((await messages(p, [ns({ "istio-injection": "disabled", "istio.io/rev": "canary" }), deployment("blue", 1)])).length, 1, "istio-injection wins");
    });

    it("routed-service-ports-declare-http: flags an unnamed routed port unless appProtocol is set", async () => {
        const p = policy("routed-service-ports-declare-http");
        assert.deepEqual(await messages(p, workload()), []);
        assert.deepEqual(await messages(p, [service({ name: "web", port: 40001, appProtocol: "http" }), virtualService()]), []);
        const found = await messages(p, [service({ name: "web", port: 40001 }), virtualService()]);
        assert.equal(found.length, 1);
        assert.match(found[0], /Service sample-ns\/nginx port 40001 is routed by a VirtualService but named "web" without appProtocol/);
        assert.deepEqual(await messages(p, [service({ name: "web", port: 40001 })]), [], "a Service no route targets is not checked");
    });

    it("container policies: pinned images, requests (mandatory), limits (advisory), no privilege", async () => {
        assert.deepEqual(await messages(policy("images-pinned"), [deployment("blue", 1)]), []);
        assert.match((await messages(policy("images-pinned"), [deployment("blue", 1, { image: "nginx:latest" })]))[0], /container nginx image got "nginx:latest"/);
        assert.equal((await messages(policy("images-pinned"), [deployment("blue", 1, { image: "nginx" })])).length, 1);
        assert.deepEqual(await messages(policy("resource-requests-set"), [deployment("blue", 1, { resources: { limits: { cpu: "1", memory: "1Gi" } } })]),
            ["container nginx sets no CPU and memory requests"]);
        const limits = await runPolicy(policy("resource-limits-set"), [deployment("blue", 1, { resources: { requests: { cpu: "1", memory: "1Gi" } } })]);
        assert.deepEqual(limits.map((v) => [v.enforcementLevel, v.message]), [["advisory", "container nginx sets no CPU and memory limits"]]);
        assert.deepEqual(await messages(policy("containers-not-privileged"), [deployment("blue", 1, { securityContext: { privileged: true } })]),
            ["container nginx runs privileged", "container nginx does not set allowPrivilegeEscalation: false"]);
        assert.deepEqual(await messages(policy("containers-not-privileged"), [deployment("blue", 1)]), []);
        assert.deepEqual(await messages(policy("images-pinned"), [{ type: TYPES.service, props: { spec: {} } }]), [], "other types are ignored");
    });

    it("gke policies: Workload Identity, shielded nodes, release channel, node auto-repair", async () => {
        const cluster = { workloadIdentityConfig: { workloadPool: "p.svc.id.goog" }, enableShieldedNodes: true, releaseChannel: { channel: "REGULAR" } };
        assert.deepEqual(await messages(policy("gke-cluster-hardened"), [{ type: TYPES.cluster, props: cluster }]), []);
        const weakened = await messages(policy("gke-cluster-hardened"), [{ type: TYPES.cluster, props: { releaseChannel: { channel: "UNSPECIFIED" } } }]);
        assert.equal(weakened.length, 3);
        assert.match(weakened.join("\n"), /Workload Identity is off/);
        assert.match(weakened.join("\n"), /shielded nodes are off/);
        assert.match(weakened.join("\n"), /no release channel/);
        assert.deepEqual(await messages(policy("gke-node-pool-auto-repair"), [{ type: TYPES.nodePool, props: { management: { autoRepair: true } } }]), []);
        assert.deepEqual(await messages(policy("gke-node-pool-auto-repair"), [{ type: TYPES.nodePool, props: { management: { autoRepair: false } } }]),
            ["auto-repair is off: set management.autoRepair: true"]);
    });
});

describe("policy pack over the real dev stack", () => {
    before(async () => { await useMocks("dev"); });

    for (const color of COLORS) {
        it(`finds no violation, advisory or mandatory, with activeColor=${color}`, async () => {
            const program = await loadProgram();
            const ev = await evaluate(program, loadStackConfig("dev", { activeColor: color }));
            assert.equal(ev.error, undefined);
            const inputs = ev.resources.map((r) => ({ type: r.type, name: r.name, props: r.inputs }));
            assert.ok(inputs.some((r) => r.type === TYPES.cluster) && inputs.some((r) => r.type === TYPES.virtualService));
            const violations = (await Promise.all(policies.map((p) => runPolicy(p as AnyPolicy, inputs)))).flat();
            assert.deepEqual(violations, []);
        });
    }

    for (const [label, overrides] of Object.entries(PROGRESSIVE_CONFIGS)) {
        it(`finds no violation with ${label}`, async () => {
            const program = await loadProgram();
            const ev = await evaluate(program, loadStackConfig("dev", overrides));
            assert.equal(ev.error, undefined, ev.error?.message);
            const inputs = ev.resources.map((r) => ({ type: r.type, name: r.name, props: r.inputs }));
            assert.deepEqual((await Promise.all(policies.map((p) => runPolicy(p as AnyPolicy, inputs)))).flat(), []);
        });
    }

    it("flags the real stack once its gateway policy is gone, though the workload's DENY policy on the header stays", async () => {
        const program = await loadProgram();
        const ev = await evaluate(program, loadStackConfig("dev"));
        const inputs = ev.resources.map((r) => ({ type: r.type, name: r.name, props: r.inputs }));
        const policiesOnHeader = inputs.filter((r) => r.type === TYPES.authorizationPolicy);
        assert.deepEqual(policiesOnHeader.map((r) => [r.props.metadata.namespace, r.props.spec.action]).sort(), [["istio-ingress", "DENY"], ["sample-ns", "DENY"]]);
        const withoutGatewayPolicy = inputs.filter((r) => !(r.type === TYPES.authorizationPolicy && r.props.metadata.namespace === "istio-ingress"));
        assert.equal((await runPolicy(policy("color-header-restricted"), withoutGatewayPolicy)).length, 1);
    });

    it("does catch a bad change to the real stack: the active color scaled to zero", async () => {
        const program = await loadProgram();
        // The program itself refuses this; the policy is the second line for stacks edited by hand.
        const ev = await evaluate(program, loadStackConfig("dev", { activeColor: "green" }));
        const inputs = ev.resources.map((r) => ({ type: r.type, name: r.name, props: structuredClone(r.inputs) }));
        inputs.find((r) => r.type === TYPES.deployment && r.props.metadata.name === "nginx-green")!.props.spec.replicas = 0;
        const violations = await runPolicy(policy("traffic-goes-to-running-pods"), inputs);
        assert.equal(violations.length, 2);
    });
});
