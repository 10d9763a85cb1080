import * as assert from "node:assert/strict";
import { Plan, formatPlan, planChanges } from "../offline/diff";
import { REPLACE_CAVEAT, replacementPaths } from "../offline/lifecycle";
import { loadProgram } from "../offline/program";
import { loadStackConfig } from "../offline/stack-files";
import { evaluate, useMocks } from "./harness";

/** The plan from the dev stack as configured to the dev stack with `overrides`. */
async function planFor(overrides: Record<string, string>): Promise<Plan> {
    await useMocks();
    const program = await loadProgram();
    const before = await evaluate(program, loadStackConfig("dev", {}));
    const after = await evaluate(program, loadStackConfig("dev", overrides));
    assert.equal(before.error ?? after.error, undefined, (before.error ?? after.error)?.message);
    return planChanges(before.resources, after.resources);
}

const summary = (plan: Plan) => plan.updates.map((u) => `${u.resource.name}: ${u.changes.map((c) => c.path).join(", ")}` +
    (u.replaces.length ? ` (replaces: ${u.replaces.join(", ")})` : "")).sort();

describe("lifecycle: which settings change in place and which replace", () => {
    // Settings a team changes in the life of a stack: each must update, never replace, anything.
    const inPlace: [string, string, string[]][] = [
        ["minNodes", "2", ["bluegreen-gke-pool: autoscaling.minNodeCount"]],
        ["maxNodes", "6", ["bluegreen-gke-pool: autoscaling.maxNodeCount"]],
        ["machineType", "e2-standard-8", ["bluegreen-gke-pool: nodeConfig.machineType"]],
        ["diskSizeGb", "100", ["bluegreen-gke-pool: nodeConfig.diskSizeGb"]],
        ["releaseChannel", "STABLE", ["bluegreen-gke-cluster: releaseChannel.channel"]],
        ["blueReplicas", "3", ["bluegreen-app-blue: spec.replicas"]],
        ["greenImage", "nginx:1.29.0", ["bluegreen-app-green: spec.template.spec.containers[0].image"]],
    ];
    for (const [setting, value, expected] of inPlace) {
        it(`${setting}=${value} updates in place`, async function () {
            this.timeout(60_000);
            const plan = await planFor({ [setting]: value });
            assert.deepEqual(summary(plan), expected);
            assert.equal(plan.creates.length + plan.deletes.length, 0);
        });
    }

    it("sets the node pool's initialNodeCount once: a later minNodes is ignored, not a replacement of every node", async function () {
        this.timeout(60_000);
        await useMocks();
        const program = await loadProgram();
        const pool = async (minNodes: string) => (await evaluate(program, loadStackConfig("dev", { minNodes })))
            .resources.find((r) => r.type === "gcp:container/nodePool:NodePool")!;
        const [one, three] = [await pool("1"), await pool("3")];
        assert.equal(one.inputs.initialNodeCount, 1);
        assert.equal(three.inputs.initialNodeCount, 3, "a new pool starts at its minimum");
        assert.deepEqual(three.ignoreChanges, ["initialNodeCount"]);
        // Were the change not ignored, the provider would replace the pool (delete first, by name).
        assert.deepEqual(replacementPaths(three.type, [{ path: "initialNodeCount", before: 1, after: 3 }]), ["initialNodeCount"]);
        assert.deepEqual(summary(planChanges([one], [three])), ["bluegreen-gke-pool: autoscaling.minNodeCount"]);
    });

    const replacing: [string, string, string[]][] = [
        ["clusterName", "other", ["bluegreen-gke-cluster", "bluegreen-gke-pool", "bluegreen-gke-network", "bluegreen-gke-nodes", "bluegreen-gke-subnet"]],
        ["privateNodes", "true", ["bluegreen-gke-cluster"]],
        ["appName", "web", ["bluegreen-app-blue", "bluegreen-app-green", "bluegreen-app-service"]],
    ];
    for (const [setting, value, names] of replacing) {
        it(`${setting}=${value} is marked as replacing ${names.length} resource(s)`, async function () {
            this.timeout(60_000);
            const plan = await planFor({ [setting]: value });
            const replaced = plan.updates.filter((u) => u.replaces.length > 0).map((u) => u.resource.name);
            for (const name of names) assert.ok(replaced.includes(name), `${name} replaced (got ${replaced.join(", ")})`);
            const text = formatPlan(plan);
            assert.match(text, /\+- \S+ \S+ \(replace/);
            assert.match(text, /\(forces replacement\)/);
            assert.match(text, /to replace/);
        });
    }

    it("marks the immutable fields of Deployments, Services and providers, and says what it cannot know", async () => {
        const paths = (type: string, ...changed: string[]) => replacementPaths(type, changed.map((path) => ({ path, before: 1, after: 2 })));
        assert.deepEqual(paths("kubernetes:apps/v1:Deployment", "spec.selector.matchLabels.app", "spec.replicas"), ["spec.selector.matchLabels.app"]);
        assert.deepEqual(paths("kubernetes:core/v1:Service", "spec.clusterIP", "spec.ports[0].port"), ["spec.clusterIP"]);
        assert.deepEqual(paths("kubernetes:core/v1:Namespace", "metadata.name", "metadata.labels.a"), ["metadata.name"]);
        assert.deepEqual(paths("pulumi:providers:kubernetes", "kubeconfig", "clusterIdentifier"), ["clusterIdentifier"]);
        assert.deepEqual(paths("kubernetes:apps/v1:Deployment", "spec.selectorX"), [], "a prefix matches whole segments only");
        const cluster = "gcp:container/cluster:Cluster";
        assert.deepEqual(replacementPaths(cluster, [{ path: "privateClusterConfig", before: undefined, after: { enablePrivateNodes: true } }]), ["privateClusterConfig"]);
        assert.deepEqual(replacementPaths(cluster, [{ path: "privateClusterConfig", before: { enablePrivateNodes: true, enablePrivateEndpoint: false },
            after: { enablePrivateNodes: true } }]), [], "an object change that leaves every trigger inside it alone");
        const plan = await planFor({ activeColor: "green" });
        assert.ok(formatPlan(plan).endsWith(REPLACE_CAVEAT));
        assert.match(REPLACE_CAVEAT, /cannot ask a provider whether an update is a replacement/);
    });
});
