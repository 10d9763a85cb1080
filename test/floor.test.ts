import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { floorProgram, kubernetesClassOf } from "../e2e/floor";
import { loadProgram } from "../offline/program";
import { PROJECT_ROOT, loadStackConfig } from "../offline/stack-files";
import { DEV_ON_EXISTING_CLUSTER, DeclaredResource, evaluate, useMocks } from "./harness";

/** The Kubernetes objects by kind/namespace/name, each with its inputs and what it waits for. */
function objectsOf(resources: DeclaredResource[]) {
    const key = (r: DeclaredResource) => `${r.type} ${r.inputs.metadata?.namespace ?? ""}/${r.inputs.metadata?.name}`;
    const byUrn = new Map(resources.map((r) => [r.urn, r]));
    return Object.fromEntries(resources.filter((r) => r.custom && r.type.startsWith("kubernetes:")).map((r) => [key(r), {
        inputs: r.inputs,
        dependsOn: r.dependsOn.map((u) => byUrn.get(u)!).filter((d) => d.custom).map(key).sort(),
    }]));
}

describe("the real-engine benchmark's floor (e2e/floor.ts)", () => {
    let dir: string;
    let program: () => unknown;
    const config = (activeColor: string) => loadStackConfig("dev", { ...DEV_ON_EXISTING_CLUSTER, activeColor });

    before(async () => {
        await useMocks();
        program = await loadProgram();
        dir = fs.mkdtempSync(path.join(os.tmpdir(), "bluegreen-floor-"));
        fs.symlinkSync(path.join(PROJECT_ROOT, "node_modules"), path.join(dir, "node_modules"));
    });
    after(() => fs.rmSync(dir, { recursive: true, force: true }));

    /** Writes the floor built from ours and returns it as a program the offline engine can run. */
    const floorFrom = async (...colors: string[]) => {
        const variants: Record<string, DeclaredResource[]> = {};
        for (const color of colors) variants[color] = (await evaluate(program, config(color))).resources;
        const file = path.join(dir, "index.js");
        fs.writeFileSync(file, floorProgram("activeColor", variants));
        return () => {
            delete require.cache[require.resolve(file)];
            require(file);
        };
    };

    it("registers the very objects ours declares, with the same inputs and dependsOn edges, for each color", async () => {
        const floor = await floorFrom("blue", "green");
        for (const color of ["blue", "green"]) {
            const ours = await evaluate(program, config(color));
            const theirs = await evaluate(floor, config(color));
            assert.equal(theirs.error, undefined);
            assert.deepEqual(objectsOf(theirs.resources), objectsOf(ours.resources), color);
            assert.ok(Object.keys(objectsOf(ours.resources)).length >= 9);
            assert.ok(!theirs.resources.some((r) => r.type.startsWith("gke-istio-bluegreen:")), "no components");
        }
    });

    it("throws before declaring anything for a value it was not built from", async () => {
        const ev = await evaluate(await floorFrom("blue", "green"), config("purple"));
        assert.match(String(ev.error?.message), /activeColor: got "purple"/);
        assert.deepEqual(ev.resources.filter((r) => r.custom), []);
    });

    it("names the SDK class of every kind", () => {
        assert.equal(kubernetesClassOf("kubernetes:core/v1:Namespace"), "k8s.core.v1.Namespace");
        assert.equal(kubernetesClassOf("kubernetes:apps/v1:Deployment"), "k8s.apps.v1.Deployment");
        assert.equal(kubernetesClassOf("kubernetes:networking.k8s.io/v1:Ingress"), "k8s.networking.v1.Ingress");
        assert.equal(kubernetesClassOf("kubernetes:networking.istio.io/v1:VirtualService"), "k8s.apiextensions.CustomResource");
        assert.throws(() => kubernetesClassOf("gcp:container/cluster:Cluster"), /not a Kubernetes resource type/);
    });
});
