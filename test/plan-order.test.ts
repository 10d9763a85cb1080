import * as assert from "node:assert/strict";
import { Plan, formatPlan, planChanges } from "../offline/diff";
import { loadProgram } from "../offline/program";
import { loadStackConfig } from "../offline/stack-files";
import { evaluate, useMocks } from "./harness";

/** The plan from one configuration of the dev stack to another, as `npm run plan` computes it. */
async function planBetween(from: Record<string, string>, to: Record<string, string>): Promise<Plan> {
    await useMocks();
    const program = await loadProgram();
    const before = await evaluate(program, loadStackConfig("dev", from));
    const after = await evaluate(program, loadStackConfig("dev", to));
    assert.equal(before.error ?? after.error, undefined);
    return planChanges(before.resources, after.resources);
}

/** Each level as `<name> <op>[; note]` lines. */
const levelsOf = (plan: Plan) => plan.levels.map((steps) => steps.map((s) => `${s.resource.name} ${s.op}${s.note ? `; ${s.note}` : ""}`).sort());

describe("plan order (npm run plan levels)", () => {
    it("rolls back from a parked color as ready first, then route, then drain", async () => {
        const plan = await planBetween({ activeColor: "green", idleReplicas: "0" }, { activeColor: "blue", idleReplicas: "0" });
        assert.deepEqual(levelsOf(plan), [
            ["bluegreen-app-blue update; waits until ready"],
            ["bluegreen-app-virtualservice update"],
            ["bluegreen-app-green update; old pods drain 30 s"],
        ]);
        const text = formatPlan(plan);
        assert.match(text, /level 1:\n {4}~ kubernetes:apps\/v1:Deployment bluegreen-app-blue \(update; waits until ready\)\n {8}~ spec\.replicas: 0 => 2/);
        assert.match(text, /level 3:\n {4}~ kubernetes:apps\/v1:Deployment bluegreen-app-green \(update; old pods drain 30 s\)/);
    });

    it("moves the route only after a new image of the receiving color is rolled out", async () => {
        const plan = await planBetween({}, { activeColor: "green", greenImage: "nginx:1.29.0" });
        assert.deepEqual(levelsOf(plan), [
            ["bluegreen-app-green update; waits until ready; old pods drain 30 s"],
            ["bluegreen-app-virtualservice update"],
        ]);
    });

    it("keeps a plain switch to one step on one level", async () => {
        const plan = await planBetween({}, { activeColor: "green" });
        assert.deepEqual(levelsOf(plan), [["bluegreen-app-virtualservice update"]]);
        assert.doesNotMatch(formatPlan(plan), /level/);
    });

    it("puts independent steps on one level and waits for a receiving color's scale-up before a canary weight", async () => {
        const plan = await planBetween({}, {
            trafficWeights: "blue=90,green=10",
            blueReplicas: "3",
            externalServices: JSON.stringify(["tcp://db.example.com:5432", "https://api.example.com:443"]),
        });
        assert.deepEqual(levelsOf(plan), [
            ["bluegreen-app-blue update; waits until ready", "bluegreen-app-serviceentry-external-api-example-com create"],
            ["bluegreen-app-virtualservice update"],
        ]);
    });

    it("guards a new header before the route moves to it, and removes the old guards only after", async () => {
        const plan = await planBetween({}, { headerName: "x-color" });
        assert.deepEqual(levelsOf(plan), [
            ["bluegreen-app-mesh-preview-access-x-color create", "bluegreen-app-preview-access-x-color create"],
            ["bluegreen-app-virtualservice update"],
        ]);
        assert.deepEqual(plan.deletes.map((r) => r.name).sort(), ["bluegreen-app-mesh-preview-access-x-version", "bluegreen-app-preview-access-x-version"]);
        const created = plan.creates.map((r) => `${r.inputs.metadata.namespace}/${r.inputs.metadata.name}`).sort();
        assert.deepEqual(created, ["istio-ingress/sample-ns-nginx-preview-x-color", "sample-ns/nginx-preview-x-color"], "new objects, not the old ones renamed");
        assert.match(formatPlan(plan), /level 2:\n {4}~ kubernetes:networking\.istio\.io\/v1:VirtualService bluegreen-app-virtualservice \(update\)[\s\S]*then:\n {4}- kubernetes:security\.istio\.io\/v1:AuthorizationPolicy/);
    });
});
