import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { parse } from "yaml";
import { routeRequest } from "../components/routing";
import { DeclaredResource, Evaluation, Resources, evaluate, useMocks } from "./harness";

/** The dev stack's settings as `pulumi config` holds them (arrays as JSON strings). */
function devStackConfig(): Record<string, string> {
    const file = parse(fs.readFileSync(path.join(__dirname, "..", "Pulumi.dev.yaml"), "utf8"));
    return Object.fromEntries(Object.entries(file.config).map(([k, v]) => [k.split(":")[1], typeof v === "string" ? v : JSON.stringify(v)]));
}

describe("stack (index.ts)", () => {
    let program: () => Promise<unknown>;

    before(async () => {
        await useMocks();
        program = (await import("../index")).default;
    });

    const run = (overrides: Record<string, string> = {}): Promise<Evaluation> => evaluate(program, { ...devStackConfig(), ...overrides });

    it("declares the whole workload for the dev stack, all through one explicit provider", async () => {
        const ev = await run();
        assert.equal(ev.error, undefined);
        const r = new Resources(ev.resources);
        const kinds = r.all.filter((x) => x.inputs.kind).map((x) => x.inputs.kind).sort();
        assert.deepEqual(kinds, ["Deployment", "Deployment", "DestinationRule", "Gateway", "Namespace", "Service", "ServiceEntry", "VirtualService"]);
        const providers = r.ofType("pulumi:providers:kubernetes");
        assert.equal(providers.length, 1);
        for (const o of r.all.filter((x) => x.inputs.kind)) assert.ok(o.provider?.startsWith(providers[0].urn), `${o.name} uses the stack's provider`);
    });

    it("exports the colors, namespace, hosts, service address and curl commands", async () => {
        const { outputs } = await run({ activeColor: "green" });
        assert.ok(outputs);
        assert.equal(outputs.activeColor, "green");
        assert.equal(outputs.idleColor, "blue");
        assert.equal(outputs.namespace, "sample-ns");
        assert.deepEqual(outputs.hosts, ["sample.hoge.com"]);
        assert.equal(outputs.serviceAddress, "nginx.sample-ns.svc.cluster.local:40001");
        assert.match(outputs.curlCommands.green, /-H 'x-version: green'/);
    });

    it("changes only the VirtualService's catch-all subset when activeColor flips", async () => {
        const blue = await run({ activeColor: "blue" });
        const green = await run({ activeColor: "green" });
        const key = (x: DeclaredResource) => `${x.type}::${x.name}`;
        const before = new Map(blue.resources.map((x) => [key(x), x]));
        const after = new Map(green.resources.map((x) => [key(x), x]));
        assert.deepEqual([...after.keys()].sort(), [...before.keys()].sort(), "the same resources exist");
        const changed = [...after.keys()].filter((k) => JSON.stringify(before.get(k)) !== JSON.stringify(after.get(k)));
        // The root stack resource's recorded state is empty either way; only the VirtualService differs.
        assert.deepEqual(changed, ["kubernetes:networking.istio.io/v1:VirtualService::bluegreen-virtualservice"]);
        const vsBefore = before.get(changed[0])!.inputs;
        const vsAfter = after.get(changed[0])!.inputs;
        assert.equal(routeRequest(vsBefore.spec, {})?.destinations[0].subset, "blue");
        assert.equal(routeRequest(vsAfter.spec, {})?.destinations[0].subset, "green");
        // Everything but that one subset is identical.
        const strip = (vs: any) => JSON.stringify({ ...vs, spec: { ...vs.spec, http: vs.spec.http.slice(0, -1) } });
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
