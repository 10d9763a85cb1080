import * as assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { publishedManifest } from "../offline/pack";
import { installedWith, packIntoConsumer } from "../offline/packed-consumer";

const root = path.join(__dirname, "..");
const tsc = path.join(root, "node_modules", "typescript", "bin", "tsc");

/** The README's library example, exactly as a reader copies it. */
function readmeSnippet(): string {
    const readme = fs.readFileSync(path.join(root, "README.md"), "utf8");
    const section = readme.slice(readme.indexOf("## Using the components as a library"));
    const match = /```ts\n([\s\S]*?)```/.exec(section);
    assert.ok(match, "the README has a TypeScript library example");
    return match[1];
}

/** Runs the consumer's compiled program under Pulumi's mocks and prints what it registered. */
const RUNNER = `
const pulumi = require("@pulumi/pulumi");
const registered = [];
pulumi.runtime.setMocks({
    newResource: (args) => { registered.push(args.type); return { id: args.name + "-id", state: args.inputs }; },
    call: (args) => args.inputs,
}, "consumer", "dev", false).then(async () => {
    pulumi.runtime.setAllConfig({ "consumer:kubeconfig": "apiVersion: v1\\nkind: Config\\n" }, ["consumer:kubeconfig"]);
    let outputs;
    await pulumi.runtime.runInPulumiStack(async () => { outputs = require("./out/program.js"); return outputs; });
    const curl = await new Promise((resolve) => outputs.curl.apply(resolve));
    await require("@pulumi/pulumi/runtime/settings").waitForRPCs();
    process.stdout.write(JSON.stringify({ registered, curl }));
});
`;

describe("the public API (components/index.ts)", () => {
    it("exports exactly the deliberate list: adding or removing a name is a decision made here", async () => {
        const api = await import("../components");
        assert.deepEqual(Object.keys(api).sort(), [
            "BLUE_GREEN_DEFAULTS", "BlueGreenEnvironment", "BlueGreenService", "CERT_MANAGER_DEFAULTS", "COLORS", "CertManager", "Color", "ConfigError",
            "DEFAULT_CLUSTER_IDENTIFIER", "DEFAULT_DRAIN_DELAY_SECONDS", "DEFAULT_ISTIO_VERSION", "DEFAULT_PREVIEW_ACCESS", "DEFAULT_RESILIENCE",
            "DEFAULT_RESOURCES", "DEFAULT_ROLLOUT_TIMEOUT_SECONDS", "DrainAction", "DrainActions", "GKE_DEFAULTS", "GkeCluster",
            "HEALTH_GATE_DEFAULTS", "HEALTH_GATE_MODES", "HealthGateMode", "ISTIO_DEFAULTS",
            "ISTIO_PLATFORMS", "IssuerKind", "IstioMesh", "IstioPlatform", "LOAD_BALANCER_POLICIES", "LoadBalancerPolicy", "MIN_GATE_WINDOW_SECONDS", "MIN_ISTIO_VERSION",
            "MTLS_MODES", "MtlsMode", "POD_SECURITY_LEVELS", "PREVIEW_ACCESS_MODES", "PodSecurityLevel", "PreviewAccessMode", "RELEASE_CHANNELS",
            "ReleaseChannel", "SERVICE_ENTRY_PROTOCOLS", "ServiceEntryLocation", "ServiceEntryProtocol", "ServiceEntryResolution", "authorize", "buildDeploymentSpec", "buildDestinationRuleSpec", "buildGatewayPreviewPolicy", "buildGatewaySpec",
            "buildMeshPreviewPolicy", "buildRequestAuthenticationSpec", "buildServiceEntrySpec", "buildServiceSpec", "buildVirtualServiceSpec",
            "colorsGainingTraffic", "curlCommands", "describeRouting", "detectRollback", "gateVerdict", "gatewayHostPatterns", "rolloutOrder", "routeRequest",
            "trafficReceivers",
        ]);
    });
});

describe("the npm package (packed, installed, consumed)", function () {
    this.timeout(300_000);
    let files: string[];
    let consumer: string;

    before(() => {
        const packed = packIntoConsumer(root, ["@types/node"]);
        consumer = packed.dir;
        files = packed.files;
        fs.writeFileSync(path.join(consumer, "program.ts"), readmeSnippet());
        fs.writeFileSync(path.join(consumer, "run.js"), RUNNER);
        fs.writeFileSync(path.join(consumer, "tsconfig.json"), JSON.stringify({
            compilerOptions: { target: "ES2022", module: "commonjs", strict: true, esModuleInterop: true, outDir: "out", types: ["node"] },
            files: ["program.ts"],
        }));
    });
    after(() => {
        if (consumer) fs.rmSync(consumer, { recursive: true, force: true });
    });

    it("ships exactly the compiled library, its declarations, the manifest, README and LICENSE", () => {
        const outside = files.filter((f) => !/^bin\/.+\.(js|d\.ts)$/.test(f) && !["package.json", "README.md", "LICENSE"].includes(f));
        assert.deepEqual(outside, [], "nothing but the library");
        for (const f of ["bin/index.js", "bin/index.d.ts", "bin/blue-green-service.js", "LICENSE"]) assert.ok(files.includes(f), f);
        assert.ok(!files.some((f) => /(^|\/)(test|offline|e2e|policy|\.bench)\//.test(f) || f === "bin/index.ts"), "no tests, tools or program");
        const manifest = JSON.parse(fs.readFileSync(path.join(consumer, "node_modules", "gke-istio-bluegreen", "package.json"), "utf8"));
        assert.equal(manifest.main, "bin/index.js");
        assert.equal(manifest.types, "bin/index.d.ts");
        assert.equal(manifest.license, "Apache-2.0");
        assert.match(fs.readFileSync(path.join(consumer, "node_modules", "gke-istio-bluegreen", "LICENSE"), "utf8"), /Apache License\s+Version 2\.0/);
        assert.deepEqual(Object.keys(manifest.peerDependencies), ["@pulumi/gcp", "@pulumi/pulumi", "google-auth-library"]);
        assert.equal(manifest.dependencies["@pulumi/pulumi"], undefined, "the SDK is a peer, never a second copy");
        assert.deepEqual(Object.keys(manifest.dependencies).sort(), ["@pulumi/kubernetes", "re2js"], "what the library loads on every path");
        assert.deepEqual(manifest.peerDependenciesMeta, { "@pulumi/gcp": { optional: true }, "google-auth-library": { optional: true } },
            "only a program that builds a GKE cluster installs @pulumi/gcp; only one whose health gate queries Managed Prometheus installs google-auth-library");
        assert.deepEqual(installedWith(manifest).sort(), ["@pulumi/kubernetes", "@pulumi/pulumi", "re2js"]);
        for (const devOnly of ["ajv", "yaml", "kubernetes-models", "@kubernetes-models/cert-manager"]) {
            assert.equal(manifest.dependencies[devOnly], undefined, `${devOnly} serves only the offline tools`);
        }
    });

    it("publishes a manifest without the repository's scripts, workspaces and development dependencies", () => {
        const manifest = JSON.parse(fs.readFileSync(path.join(consumer, "node_modules", "gke-istio-bluegreen", "package.json"), "utf8"));
        const repository = JSON.parse(fs.readFileSync(path.join(root, "package.json"), "utf8"));
        // npm 11 lists a dependency's scripts it skips at every install; a workspace or a private flag means nothing to a consumer.
        for (const field of ["scripts", "workspaces", "devDependencies", "private", "allowScripts"]) {
            assert.equal(manifest[field], undefined, `the published manifest has no ${field}`);
        }
        assert.deepEqual(manifest, publishedManifest(repository), "everything else is the repository's, unchanged");
        assert.equal(repository.scripts.prepare, "npm run build", "a git install and the Pulumi plugin host still build the library");
        assert.equal(repository.private, true, "a plain npm publish cannot ship the repository's manifest by mistake");
    });

    it("type-checks the README's example against the shipped declarations and runs it under mocks", () => {
        execFileSync(process.execPath, [tsc, "-p", path.join(consumer, "tsconfig.json")], { encoding: "utf8" });
        const result = JSON.parse(execFileSync(process.execPath, ["run.js"], { cwd: consumer, encoding: "utf8" }));
        assert.equal(result.registered.filter((t: string) => t === "kubernetes:apps/v1:Deployment").length, 2);
        assert.ok(result.registered.includes("kubernetes:networking.istio.io/v1:VirtualService"));
        assert.match(result.curl.green, /-H 'Host: shop\.example\.com' -H 'x-version: green'/);
    });
});
