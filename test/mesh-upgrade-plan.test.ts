// A revision-based Istio upgrade as the plans of its steps (npm run plan): each step one config
// value, each plan touching only what that value is about, in make-before-break order. And the
// migration of stacks installed with one istiod: zero changes.
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { Plan, formatPlan, planChanges } from "../offline/diff";
import { loadProgram } from "../offline/program";
import { loadStackConfig } from "../offline/stack-files";
import { DeclaredResource, Evaluation, evaluate, useMocks } from "./harness";

const RELEASE = "kubernetes:helm.sh/v3:Release";

/** Each level as sorted `<name> <op>` lines (notes left out: the Deployment notes are covered in plan-order). */
const levelsOf = (plan: Plan) => plan.levels.map((steps) => steps.map((s) => `${s.resource.name} ${s.op}`).sort());
/** Every changed path, `<resource>: <path>`. */
const changesOf = (plan: Plan) => plan.updates.flatMap((u) => u.changes.map((c) => `${u.resource.name}: ${c.path}`)).sort();

describe("a revision-based Istio upgrade, step by step (npm run plan)", function () {
    this.timeout(120_000);
    let program: () => unknown;
    before(async () => {
        await useMocks();
        program = await loadProgram();
    });
    const render = async (config: Record<string, string>): Promise<Evaluation> => {
        const ev = await evaluate(program, loadStackConfig("dev", config));
        assert.equal(ev.error, undefined, ev.error?.message);
        return ev;
    };
    const urnOf = (ev: Evaluation, name: string) => ev.resources.find((r) => r.name === name)!.urn;

    // The flow of docs/istio-upgrades.md, from a stack installed with one istiod at 1.30.8.
    const installed = { istioVersion: "1.30.8" };
    const both = { istioControlPlanes: '["default=1.30.8","1-31-4=1.31.4"]', istioValidatorRevision: "default", ingressIstioRevision: "default" };
    const pinned = { ...both, blueIstioRevision: "default", greenIstioRevision: "default" };
    const idleMoved = { ...pinned, greenIstioRevision: "1-31-4" };
    const switched = { ...idleMoved, activeColor: "green" };
    const colorsMoved = { ...switched, blueIstioRevision: "1-31-4" };
    const validatorMoved = { ...colorsMoved, istioValidatorRevision: "1-31-4" };
    const gatewayMoved = { ...validatorMoved, ingressIstioRevision: "1-31-4" };
    const oldUnlisted = { ...gatewayMoved, istioControlPlanes: '["1-31-4=1.31.4"]' };

    it("1. listing a new revision installs its istiod after base moves its CRDs to the newest version, and changes nothing else", async () => {
        const [before, after] = [await render(installed), await render(both)];
        const plan = planChanges(before.resources, after.resources);
        assert.deepEqual(levelsOf(plan), [["bluegreen-istio-base update"], ["bluegreen-istio-istiod-1-31-4 create"]]);
        assert.deepEqual(changesOf(plan), ["bluegreen-istio-base: version"]);
        assert.deepEqual(plan.deletes, []);
        const created = plan.creates[0].inputs;
        assert.deepEqual([created.name, created.version, created.values.revision], ["istiod-1-31-4", "1.31.4", "1-31-4"]);
        // The old istiod keeps its resource name and inputs: listing a revision never replaces another.
        const istiod = (ev: Evaluation) => ev.resources.find((r) => r.name === "bluegreen-istio-istiod")!;
        assert.deepEqual(istiod(after).inputs, istiod(before).inputs);
    });

    it("2. pinning the colors to the revision they run takes the label off the namespace and puts it on each pod template", async () => {
        const plan = planChanges((await render(both)).resources, (await render(pinned)).resources);
        assert.deepEqual(changesOf(plan), [
            "bluegreen-app-blue: spec.template.metadata.labels.istio.io/rev",
            "bluegreen-app-green: spec.template.metadata.labels.istio.io/rev",
            "bluegreen-app-namespace: metadata.labels.istio-injection",
        ]);
        const after = plan.updates.map((u) => u.resource);
        assert.equal(after.find((r) => r.name === "bluegreen-app-namespace")!.inputs.metadata.labels["istio-injection"], undefined);
        assert.equal(after.find((r) => r.name === "bluegreen-app-blue")!.inputs.spec.template.metadata.labels["istio.io/rev"], "default");
    });

    it("3. moving the idle color's pin rolls that color only, after the new istiod", async () => {
        const after = await render(idleMoved);
        const plan = planChanges((await render(pinned)).resources, after.resources);
        assert.deepEqual(levelsOf(plan), [["bluegreen-app-green update"]]);
        assert.deepEqual(changesOf(plan), ["bluegreen-app-green: spec.template.metadata.labels.istio.io/rev"]);
        const green = after.resources.find((r) => r.name === "bluegreen-app-green")!;
        assert.ok(green.dependsOn.includes(urnOf(after, "bluegreen-istio-istiod-1-31-4")), "the pods of the new revision wait for its istiod");
    });

    it("4. switching activeColor changes the route only; 5. moving the other color rolls it only", async () => {
        const [a, b, c] = [await render(idleMoved), await render(switched), await render(colorsMoved)];
        assert.deepEqual(levelsOf(planChanges(a.resources, b.resources)), [["bluegreen-app-virtualservice update"]]);
        assert.deepEqual(changesOf(planChanges(b.resources, c.resources)), ["bluegreen-app-blue: spec.template.metadata.labels.istio.io/rev"]);
    });

    it("6. moving the validator changes base's defaultRevision only, and base waits for the new istiod", async () => {
        const after = await render(validatorMoved);
        const plan = planChanges((await render(colorsMoved)).resources, after.resources);
        assert.deepEqual(changesOf(plan), ["bluegreen-istio-base: values.defaultRevision"]);
        const base = after.resources.find((r) => r.name === "bluegreen-istio-base")!;
        assert.equal(base.inputs.values.defaultRevision, "1-31-4");
        assert.ok(base.dependsOn.includes(urnOf(after, "bluegreen-istio-istiod-1-31-4")), "base points the validator at an istiod that is ready");
    });

    it("7. moving the gateway's revision upgrades the gateway release only (its pods roll)", async () => {
        const plan = planChanges((await render(validatorMoved)).resources, (await render(gatewayMoved)).resources);
        assert.deepEqual(changesOf(plan), ["bluegreen-istio-gateway: values.revision", "bluegreen-istio-gateway: version"]);
    });

    it("8. unlisting the old revision deletes its istiod last, and the CNI agent moves to the oldest remaining version", async () => {
        const plan = planChanges((await render(gatewayMoved)).resources, (await render(oldUnlisted)).resources);
        assert.deepEqual(plan.deletes.map((r) => r.name), ["bluegreen-istio-istiod"]);
        assert.deepEqual(changesOf(plan), ["bluegreen-istio-cni: version"]);
        assert.match(formatPlan(plan), /- kubernetes:helm\.sh\/v3:Release bluegreen-istio-istiod \(delete\)/);
    });

    it("reverting any step is the same one-value change back", async () => {
        for (const [from, to] of [[both, installed], [idleMoved, pinned], [validatorMoved, colorsMoved], [oldUnlisted, gatewayMoved]]) {
            const [a, b] = [await render(from), await render(to)];
            const forth = planChanges(b.resources, a.resources);
            const back = planChanges(a.resources, b.resources);
            assert.equal(back.creates.length, forth.deletes.length);
            assert.equal(back.deletes.length, forth.creates.length);
            assert.deepEqual(changesOf(back), changesOf(forth));
        }
    });
});

describe("the one-step istioRevision change (the trap the staged flow replaces)", function () {
    this.timeout(120_000);
    it("creates the new istiod after base moves the validator, relabels the namespace after it, and deletes the old istiod last: base's and the old release's guards stop it", async () => {
        await useMocks();
        const program = await loadProgram();
        const [before, after] = [await evaluate(program, loadStackConfig("dev", { istioRevision: "canary" })), await evaluate(program, loadStackConfig("dev", { istioRevision: "stable" }))];
        const plan = planChanges(before.resources, after.resources);
        const levels = levelsOf(plan);
        const levelOf = (step: string) => levels.findIndex((l) => l.includes(step));
        assert.equal(levelOf("bluegreen-istio-base update"), 0, "base moves the validator first: its validator-ready hook refuses, before anything else changed");
        assert.ok(levelOf("bluegreen-istio-istiod-stable create") > levelOf("bluegreen-istio-base update"));
        assert.ok(levelOf("bluegreen-app-namespace update") > levelOf("bluegreen-istio-istiod-stable create"), "the namespace label moves once the new istiod is ready");
        assert.deepEqual(plan.deletes.map((r) => r.name), ["bluegreen-istio-istiod-canary"]);
        const hooks = (ev: Evaluation, name: string) => ev.resources.find((r) => r.name === name)!.resourceHooks;
        assert.deepEqual(hooks(before, "bluegreen-istio-istiod-canary")?.beforeDelete, ["bluegreen-istio-istiod-guard"], "the old release's state carries the guard");
        assert.deepEqual(hooks(after, "bluegreen-istio-base")?.beforeUpdate, ["bluegreen-istio-validator-ready"]);
    });
});

describe("stacks installed with one istiod (istioVersion/istioRevision) migrate with no change", function () {
    this.timeout(120_000);
    /** The state an existing stack holds: what the program declared before several control planes existed. */
    const released = JSON.parse(fs.readFileSync(path.join(__dirname, "fixtures", "one-istiod-state.json"), "utf8")).stacks as Record<string, DeclaredResource[]>;
    let program: () => unknown;
    before(async () => {
        await useMocks();
        program = await loadProgram();
    });
    const planFrom = async (state: DeclaredResource[], config: Record<string, string>) => {
        const ev = await evaluate(program, loadStackConfig("dev", config));
        assert.equal(ev.error, undefined, ev.error?.message);
        return planChanges(state, ev.resources);
    };
    const noChange = (plan: Plan) => assert.deepEqual(
        { creates: plan.creates.map((r) => r.name), deletes: plan.deletes.map((r) => r.name), updates: changesOf(plan) },
        { creates: [], deletes: [], updates: [] });

    const cases: [string, string, Record<string, string>][] = [
        ["the revision-less istiod, config unchanged", "dev", {}],
        ["the revision-less istiod, listed as default", "dev", { istioControlPlanes: '["default=1.31.4"]' }],
        ["istiod as revision canary, config unchanged", "dev istioRevision=canary", { istioRevision: "canary" }],
        ["istiod as revision canary, listed", "dev istioRevision=canary", { istioRevision: "canary", istioControlPlanes: '["canary=1.31.4"]' }],
        ["istiod as revision canary, listed with the validator and gateway named", "dev istioRevision=canary",
            { istioRevision: "canary", istioControlPlanes: '["canary=1.31.4"]', istioValidatorRevision: "canary", ingressIstioRevision: "canary" }],
    ];
    for (const [what, stack, config] of cases) {
        it(`plans zero creates, deletes and updates: ${what}`, async () => noChange(await planFrom(released[stack], config)));
    }

    it("adopts the revisioned istiod under its new resource name through an alias (without it: a second release of the same name, and the old one deleted)", async () => {
        const plan = await planFrom(released["dev istioRevision=canary"], { istioRevision: "canary" });
        noChange(plan);
        const ev = await evaluate(program, loadStackConfig("dev", { istioRevision: "canary" }));
        const istiod = ev.resources.find((r) => r.type === RELEASE && r.inputs.name === "istiod-canary")!;
        assert.equal(istiod.name, "bluegreen-istio-istiod-canary");
        assert.deepEqual(istiod.aliases.filter((a) => a.name), [{ name: "bluegreen-istio-istiod" }]);
        const withoutAlias = planChanges(released["dev istioRevision=canary"], ev.resources.map((r) => (r === istiod ? { ...r, aliases: [] } : r)));
        assert.deepEqual([withoutAlias.creates.map((r) => r.name), withoutAlias.deletes.map((r) => r.name)], [["bluegreen-istio-istiod-canary"], ["bluegreen-istio-istiod"]]);
    });
});
