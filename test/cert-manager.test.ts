import * as assert from "node:assert/strict";
import type * as cm from "../components/cert-manager";
import { Resources, evaluate, useMocks } from "./harness";

describe("CertManager", () => {
    let mod: typeof cm;
    let envMod: typeof import("../components/blue-green-environment");
    before(async () => {
        await useMocks();
        mod = await import("../components/cert-manager");
        envMod = await import("../components/blue-green-environment");
    });

    it("installs the official chart, pinned, with its CRDs, awaited, into its own namespace", async () => {
        const ev = await evaluate(() => new mod.CertManager("cm", { version: "v1.21.2" }));
        const r = new Resources(ev.resources);
        const release = r.get("kubernetes:helm.sh/v3:Release", "cm-release");
        assert.deepEqual([release.inputs.name, release.inputs.chart, release.inputs.version, release.inputs.namespace], ["cert-manager", "cert-manager", "v1.21.2", "cert-manager"]);
        assert.deepEqual(release.inputs.repositoryOpts, { repo: "https://charts.jetstack.io" });
        assert.deepEqual(release.inputs.values, { crds: { enabled: true } });
        assert.equal(release.inputs.skipAwait, false);
        assert.deepEqual([release.inputs.atomic, release.inputs.cleanupOnFail], [true, true], "a failed install is uninstalled");
        assert.ok(release.dependsOn.includes(r.get("kubernetes:core/v1:Namespace", "cm-namespace").urn));
    });

    it("refuses an unpinned version", async () => {
        const ev = await evaluate(() => new mod.CertManager("cm", { version: "latest" }));
        assert.match(ev.error?.message ?? "", /version: got "latest"; allowed values: an exact cert-manager release/);
        assert.deepEqual(ev.resources.map((x) => x.type), ["pulumi:pulumi:Stack"]);
    });

    it("is installed by the environment before the workload's Certificate, which lands in the gateway's namespace", async () => {
        const ev = await evaluate(() => new envMod.BlueGreenEnvironment("env", {
            kubeconfig: "/tmp/kubeconfig",
            mesh: {},
            certManager: {},
            workload: { activeColor: "blue", tls: { credentialName: "sample-tls", httpsRedirect: true, certificate: { issuerName: "letsencrypt" } } },
        }));
        assert.equal(ev.error, undefined);
        const r = new Resources(ev.resources);
        const cert = r.only("Certificate");
        assert.equal(cert.inputs.metadata.namespace, "istio-ingress");
        assert.ok(cert.dependsOn.includes(r.get("kubernetes:helm.sh/v3:Release", "env-cert-manager-release").urn));
        const gatewayRelease = r.ofType("kubernetes:helm.sh/v3:Release").find((x) => x.inputs.chart === "gateway")!;
        assert.equal(gatewayRelease.inputs.namespace, cert.inputs.metadata.namespace, "the secret is where the gateway pods read it");
    });
});
