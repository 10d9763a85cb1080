import * as assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as path from "node:path";
import type * as envMod from "../components/blue-green-environment";
import { Resources, evaluate, useMocks } from "./harness";

const cluster = { project: "my-project-id", clusterName: "bg", location: "us-central1", deletionProtection: false };

/** Declares an environment whose workload's blue image is an Output resolving to a bad value; prints how the update failed. */
const RESOLVED_BAD_IMAGE = `
const pulumi = require("@pulumi/pulumi");
const { useMocks, evaluate } = require("./test/harness");
(async () => {
    let failure;
    process.on("unhandledRejection", (e) => { failure = failure ?? e; });
    await useMocks();
    const { BlueGreenEnvironment } = require("./components/blue-green-environment");
    const ev = evaluate(() => new BlueGreenEnvironment("env", { kubeconfig: "/k", installMesh: false,
        workload: { activeColor: "blue", colors: { blue: { image: pulumi.output("nginx:latest"), replicas: 2 } } } }))
        .then((r) => { failure = failure ?? r.error; }, (e) => { failure = failure ?? e; });
    for (let waited = 0; !failure && waited < 20000; waited += 50) await Promise.race([ev, new Promise((r) => setTimeout(r, 50))]);
    console.log(JSON.stringify({ message: failure && failure.message }));
    process.exit(0);
})();
`;

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
        const root = r.get("gke-istio-bluegreen:index:BlueGreenEnvironment", "env");
        for (const [type, name] of [["gke-istio-bluegreen:index:GkeCluster", "env-gke"], ["gke-istio-bluegreen:index:IstioMesh", "env-istio"], ["gke-istio-bluegreen:index:BlueGreenService", "env-app"]]) {
            assert.equal(r.get(type, name).parent, root.urn, `${name} is a child of the environment`);
        }
    });

    it("registers every component as gke-istio-bluegreen:index:<Class>, aliased to its previous token so existing stacks adopt it", async () => {
        const { r } = await declare({ cluster, mesh: {}, certManager: {}, workload: { activeColor: "blue" } });
        const previous: [string, string, string][] = [
            ["BlueGreenEnvironment", "env", "bluegreen:index:BlueGreenEnvironment"],
            ["GkeCluster", "env-gke", "bluegreen:gke:GkeCluster"],
            ["IstioMesh", "env-istio", "bluegreen:istio:IstioMesh"],
            ["CertManager", "env-cert-manager", "bluegreen:tls:CertManager"],
            ["BlueGreenService", "env-app", "bluegreen:workload:BlueGreenService"],
        ];
        for (const [cls, name, old] of previous) {
            assert.deepEqual(r.get(`gke-istio-bluegreen:index:${cls}`, name).aliases, [{ type: old }], cls);
        }
        assert.deepEqual(r.all.filter((x) => x.type.startsWith("bluegreen:")).map((x) => x.type), [], "no component keeps an old token");
    });

    it("checks a workload image that comes from another resource when it resolves, under the same name as a known one", async function () {
        this.timeout(60_000);
        const known = await declare({ kubeconfig: "/k", installMesh: false, workload: { activeColor: "blue", colors: { blue: { image: "nginx:latest", replicas: 2 } } } });
        const expected = known.error?.message ?? "";
        assert.match(expected, /workload\.colors\.blue\.image/);
        // A failed registration leaves the mock engine unusable: this runs in a process of its own.
        const result = spawnSync(process.execPath, ["-r", "ts-node/register/transpile-only", "-e", RESOLVED_BAD_IMAGE], {
            cwd: path.join(__dirname, ".."), encoding: "utf8", timeout: 50_000,
        });
        const failure = JSON.parse(result.stdout.trim().split("\n").pop() ?? "{}");
        assert.ok(typeof failure.message === "string" && failure.message.endsWith(expected), `the ConfigError text, verbatim: ${result.stdout}${result.stderr}`);
    });

    it("makes every Istio object and Deployment of the workload wait for base and istiod", async () => {
        const { r } = await declare({ cluster, mesh: {}, workload: { activeColor: "green" } });
        const releases = r.ofType("kubernetes:helm.sh/v3:Release");
        const base = releases.find((x) => x.inputs.chart === "base")!;
        const istiod = releases.find((x) => x.inputs.chart === "istiod")!;
        const app = r.get("gke-istio-bluegreen:index:BlueGreenService", "env-app");
        const waiting = r.all.filter((x) => x.parent === app.urn && ["Gateway", "DestinationRule", "VirtualService", "ServiceEntry", "Deployment"].includes(x.inputs.kind));
        assert.equal(waiting.length, 5);
        for (const x of waiting) {
            assert.ok(x.dependsOn.includes(base.urn) && x.dependsOn.includes(istiod.urn), `${x.inputs.kind} ${x.name} waits for the mesh`);
        }
    });

    it("installs istiod as the revision the workload is injected with, or refuses a mismatch", async () => {
        const { r } = await declare({ cluster, mesh: {}, workload: { activeColor: "blue", istioRevision: "canary" } });
        const istiod = r.ofType("kubernetes:helm.sh/v3:Release").find((x) => x.inputs.chart === "istiod")!;
        assert.deepEqual([istiod.inputs.name, istiod.inputs.values.revision], ["istiod-canary", "canary"]);
        assert.deepEqual(r.ofType("kubernetes:core/v1:Namespace").find((x) => x.inputs.metadata.name === "sample-ns")!.inputs.metadata.labels["istio.io/rev"], "canary");
        // A cluster built here gets the GKE platform profile (CNI binary directory, system-node-critical quota).
        assert.equal(istiod.inputs.values.global.platform, "gke");
        const mismatch = await declare({ kubeconfig: "/k", mesh: { revision: "stable" }, workload: { activeColor: "blue", istioRevision: "canary" } });
        assert.match(mismatch.error?.message ?? "", /workload\.istioRevision: is "canary" but the installed istiod is revision "stable"/);
        const unlabelled = await declare({ kubeconfig: "/k", mesh: { revision: "stable" }, workload: { activeColor: "blue" } });
        assert.match(unlabelled.error?.message ?? "", /workload\.istioRevision: is nothing but the installed istiod is revision "stable"/);
        const existing = (await declare({ kubeconfig: "/k", mesh: {}, workload: { activeColor: "blue" } })).r;
        assert.equal(existing.ofType("kubernetes:helm.sh/v3:Release").find((x) => x.inputs.chart === "istiod")!.inputs.values.global.platform, undefined);
    });

    it("makes the TLS Certificate wait for the gateway's namespace, with or without cert-manager installed here", async () => {
        for (const certManager of [false, {}] as const) {
            const { r } = await declare({
                kubeconfig: "/k", mesh: {}, certManager,
                workload: { activeColor: "blue", tls: { credentialName: "sample-tls", httpsRedirect: false, certificate: { issuerName: "letsencrypt" } } },
            });
            const ns = r.ofType("kubernetes:core/v1:Namespace").find((x) => x.inputs.metadata.name === "istio-ingress")!;
            const certificate = r.only("Certificate");
            assert.equal(certificate.inputs.metadata.namespace, "istio-ingress");
            assert.ok(certificate.dependsOn.includes(ns.urn), `installCertManager=${certManager !== false}`);
        }
    });

    it("refuses conflicting or bad settings from any part, before declaring anything", async () => {
        const ev = await declare({
            cluster: { ...cluster, releaseChannel: "NIGHTLY" as any },
            kubeconfig: "/tmp/kubeconfig",
            mesh: { mtlsMode: "OFF" as any },
            existingGatewaySelector: { istio: "ingress" },
            workload: { activeColor: "purple" as any },
            collectMetrics: "yes" as any,
        });
        assert.ok(ev.error);
        for (const setting of ["kubeconfig", "collectMetrics", "existingGatewaySelector", "cluster.releaseChannel", "mesh.mtlsMode", "workload.activeColor"]) {
            assert.match(ev.error.message, new RegExp(`- ${setting.replace(".", "\\.")}: `), setting);
        }
        assert.deepEqual(ev.resources.map((x) => x.type), ["pulumi:pulumi:Stack"]);
    });
});
