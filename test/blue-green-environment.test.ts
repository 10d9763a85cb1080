import * as assert from "node:assert/strict";
import type * as envMod from "../components/blue-green-environment";
import { Resources, evaluate, useMocks } from "./harness";

const cluster = { project: "my-project-id", clusterName: "bg", location: "us-central1", deletionProtection: false };

describe("BlueGreenEnvironment", () => {
    let mod: typeof envMod;
    before(async () => {
        await useMocks();
        mod = await import("../components/blue-green-environment");
    });

    async function declare(args: envMod.BlueGreenEnvironmentArgs) {
        const ev = await evaluate(() => new mod.BlueGreenEnvironment("env", args));
        return { ...ev, r: new Resources(ev.resources) };
    }

    it("composes cluster -> mesh -> workload under one parent", async () => {
        const { r } = await declare({ cluster, mesh: {}, workload: { activeColor: "blue" } });
        const root = r.get("bluegreen:index:BlueGreenEnvironment", "env");
        for (const [type, name] of [["bluegreen:gke:GkeCluster", "env-gke"], ["bluegreen:istio:IstioMesh", "env-istio"], ["bluegreen:workload:BlueGreenService", "env-app"]]) {
            assert.equal(r.get(type, name).parent, root.urn, `${name} is a child of the environment`);
        }
    });

    it("makes every Istio object and Deployment of the workload wait for base and istiod", async () => {
        const { r } = await declare({ cluster, mesh: {}, workload: { activeColor: "green" } });
        const releases = r.ofType("kubernetes:helm.sh/v3:Release");
        const base = releases.find((x) => x.inputs.chart === "base")!;
        const istiod = releases.find((x) => x.inputs.chart === "istiod")!;
        const app = r.get("bluegreen:workload:BlueGreenService", "env-app");
        const waiting = r.all.filter((x) => x.parent === app.urn && ["Gateway", "DestinationRule", "VirtualService", "ServiceEntry", "Deployment"].includes(x.inputs.kind));
        assert.equal(waiting.length, 5);
        for (const x of waiting) {
            assert.ok(x.dependsOn.includes(base.urn) && x.dependsOn.includes(istiod.urn), `${x.inputs.kind} ${x.name} waits for the mesh`);
        }
    });

    it("refuses conflicting or bad settings from any part, before declaring anything", async () => {
        const ev = await declare({
            cluster: { ...cluster, releaseChannel: "NIGHTLY" as any },
            kubeconfig: "/tmp/kubeconfig",
            mesh: { mtlsMode: "OFF" as any },
            existingGatewaySelector: { istio: "ingress" },
            workload: { activeColor: "purple" as any },
        });
        assert.ok(ev.error);
        for (const setting of ["kubeconfig", "existingGatewaySelector", "cluster.releaseChannel", "mesh.mtlsMode", "workload.activeColor"]) {
            assert.match(ev.error.message, new RegExp(`- ${setting.replace(".", "\\.")}: `), setting);
        }
        assert.deepEqual(ev.resources.map((x) => x.type), ["pulumi:pulumi:Stack"]);
    });
});
