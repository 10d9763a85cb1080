// The multi-language contract: Pulumi's own analyzer (what `pulumi package add` and
// `pulumi package get-schema` run through the Node.js plugin host) must produce a schema for every
// component from the sources, with every argument documented, the enums with their values, the
// outputs users need, and nothing internal.
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { parse } from "yaml";
import { Resources, evaluate, useMocks, valueOf } from "./harness";

const root = path.join(__dirname, "..");
const PACKAGE = "gke-istio-bluegreen";
const token = (name: string) => `${PACKAGE}:index:${name}`;

/** The outputs each component exposes on purpose: exactly these, no child resource or internal field. */
const OUTPUTS: Record<string, string[]> = {
    BlueGreenEnvironment: ["activeColor", "clusterName", "curlCommands", "idleColor", "ingressAddress", "istioVersion", "kubeconfig"],
    BlueGreenService: ["activeColor", "curlCommands", "hosts", "idleColor", "namespaceName", "serviceAddress"],
    GkeCluster: ["clusterName", "endpoint", "kubeconfig"],
    IstioMesh: ["gatewaySelector", "ingressAddress", "ingressNamespace", "revision", "version"],
    CertManager: [],
};

describe("multi-language schema (Pulumi's component analyzer)", function () {
    this.timeout(180_000);
    let schema: any;
    let api: typeof import("../components");
    let provider: import("@pulumi/pulumi/provider/experimental/provider").ComponentProvider;

    before(async () => {
        await useMocks();
        api = await import("../components");
        const { ComponentProvider, getPulumiComponents } = await import("@pulumi/pulumi/provider/experimental/provider");
        // The components as the plugin host finds them: every ComponentResource the package exports.
        const components = getPulumiComponents(api);
        assert.deepEqual(components.map((c: { name: string }) => c.name).sort(), Object.keys(OUTPUTS).sort());
        provider = new ComponentProvider({ dirname: root, name: PACKAGE, components });
        schema = JSON.parse(await provider.getSchema());
    });

    it("describes every component under its gke-istio-bluegreen:index token", () => {
        assert.equal(schema.name, PACKAGE);
        assert.deepEqual(Object.keys(schema.resources).sort(), Object.keys(OUTPUTS).map(token).sort());
        for (const [tok, resource] of Object.entries<any>(schema.resources)) {
            assert.equal(resource.isComponent, true, tok);
            assert.ok(resource.description?.length > 20, `${tok} has a description`);
        }
    });

    it("documents every argument and every field of every argument type, with no [object Object] from {@link}", () => {
        assert.doesNotMatch(JSON.stringify(schema), /\[object Object\]/);
        for (const [tok, resource] of Object.entries<any>(schema.resources)) {
            for (const [name, prop] of Object.entries<any>(resource.inputProperties ?? {})) assert.ok(prop.description, `${tok} argument ${name}`);
        }
        for (const [tok, type] of Object.entries<any>(schema.types)) {
            for (const [name, prop] of Object.entries<any>(type.properties ?? {})) assert.ok(prop.description, `${tok}.${name}`);
        }
        const args = (name: string) => Object.keys(schema.resources[token(name)].inputProperties).sort();
        assert.deepEqual(args("BlueGreenService"), [
            "activeColor", "appName", "colors", "createNamespace", "drainAction", "drainDelaySeconds", "externalServices", "gatewayNamespace",
            "gatewaySelector", "headerName", "healthGate", "hosts", "idleReplicas", "ingressAddress", "istioRevision", "loadBalancer", "meshRouting", "mirrorToIdle",
            "namespace", "podSecurity", "previewAccess", "resilience", "resources", "rolloutTimeoutSeconds", "servicePort", "targetedRoutes", "tls",
            "trafficWeights",
        ]);
        assert.deepEqual(args("BlueGreenEnvironment"), [
            "certManager", "cluster", "clusterIdentifier", "existingGatewayNamespace", "existingGatewaySelector", "installMesh", "kubeconfig", "mesh", "workload",
        ]);
        // A documented default stays true to the code.
        assert.match(schema.resources[token("IstioMesh")].inputProperties.version.description, new RegExp(api.DEFAULT_ISTIO_VERSION.replace(/\./g, "\\.")));
    });

    it("keeps plain what decides which objects exist and their order; takes from other resources what nothing structural depends on", () => {
        const service = schema.resources[token("BlueGreenService")].inputProperties;
        for (const name of ["activeColor", "colors", "trafficWeights", "targetedRoutes", "mirrorToIdle", "idleReplicas", "createNamespace", "appName"]) {
            assert.equal(service[name].plain, true, `${name} is plain`);
        }
        assert.equal(service.ingressAddress.plain, undefined, "ingressAddress may be an Output");
        const colorSpec = schema.types[token("ColorSpec")].properties;
        assert.equal(colorSpec.replicas.plain, true);
        assert.equal(colorSpec.image.plain, undefined, "an image built in the same program");
        assert.equal(schema.resources[token("BlueGreenEnvironment")].inputProperties.kubeconfig.plain, undefined);
        assert.deepEqual(Object.keys(schema.types[token("ColorsArgs")].properties).sort(), ["blue", "green"]);
        assert.deepEqual(schema.types[token("WorkloadArgs")].properties.activeColor.$ref, `#/types/${token("Color")}`);
    });

    it("publishes the enums with the values the components accept", () => {
        const values = (name: string) => schema.types[token(name)]?.enum?.map((e: { value: string }) => e.value);
        assert.deepEqual(values("Color"), [...api.COLORS]);
        assert.deepEqual(values("LoadBalancerPolicy"), [...api.LOAD_BALANCER_POLICIES]);
        assert.deepEqual(values("ReleaseChannel"), [...api.RELEASE_CHANNELS]);
        assert.deepEqual(values("MtlsMode"), [...api.MTLS_MODES]);
        assert.deepEqual(values("IstioPlatform"), ["", ...api.ISTIO_PLATFORMS]);
        assert.deepEqual(values("PodSecurityLevel"), [...api.POD_SECURITY_LEVELS]);
        assert.deepEqual(values("PreviewAccessMode"), [...api.PREVIEW_ACCESS_MODES]);
        assert.deepEqual(values("ServiceEntryProtocol"), [...api.SERVICE_ENTRY_PROTOCOLS]);
        assert.deepEqual(values("DrainAction"), Object.values(api.DrainAction));
        assert.deepEqual(values("IssuerKind"), ["ClusterIssuer", "Issuer"]);
        assert.deepEqual(values("HealthGateMode"), [...api.HEALTH_GATE_MODES]);
        assert.deepEqual(schema.types[token("Color")].enum.map((e: { name: string }) => e.name), ["Blue", "Green"]);
    });

    it("exposes the outputs users need, and nothing else (no child resources, no private fields)", () => {
        for (const [name, outputs] of Object.entries(OUTPUTS)) {
            assert.deepEqual(Object.keys(schema.resources[token(name)].properties ?? {}).sort(), outputs, name);
        }
        const curl = schema.resources[token("BlueGreenService")].properties.curlCommands;
        assert.equal(curl.$ref, `#/types/${token("CurlCommands")}`);
        assert.deepEqual(Object.keys(schema.types[token("CurlCommands")].properties).sort(), ["blue", "default", "green"]);
    });

    it("constructs a component from its type token and plain inputs, as the plugin host does for another language", async () => {
        let state: Record<string, any> = {};
        const ev = await evaluate(async () => {
            ({ state } = await provider.construct("shop", token("BlueGreenService"),
                { activeColor: "green", appName: "shop", namespace: "shop", hosts: ["shop.example.com"], createNamespace: false }, {}));
        });
        assert.equal(ev.error, undefined);
        const r = new Resources(ev.resources);
        assert.deepEqual(r.get(token("BlueGreenService"), "shop").aliases, [{ type: "bluegreen:workload:BlueGreenService" }]);
        assert.equal(r.only("VirtualService").inputs.spec.http.at(-1).route[0].destination.subset, "green");
        assert.deepEqual(Object.keys(state).sort(), OUTPUTS.BlueGreenService);
        assert.equal(await valueOf(state.activeColor), "green");
        await assert.rejects(provider.construct("x", "bluegreen:workload:BlueGreenService", { activeColor: "blue" }, {}), /Invalid package name bluegreen/);
    });

    it("is a plugin Pulumi can load: PulumiPlugin.yaml (nodejs) and package.json main built by prepare", () => {
        assert.equal(parse(fs.readFileSync(path.join(root, "PulumiPlugin.yaml"), "utf8")).runtime, "nodejs");
        const manifest = JSON.parse(fs.readFileSync(path.join(root, "package.json"), "utf8"));
        assert.equal(manifest.name, PACKAGE, "the provider name the plugin host derives, and so the token prefix");
        // The host requires the package directory, so `main` must exist after `npm install`, which runs prepare.
        assert.equal(manifest.main, "bin/index.js");
        assert.match(manifest.scripts.prepare, /npm run build/);
        const build = JSON.parse(fs.readFileSync(path.join(root, "tsconfig.build.json"), "utf8"));
        assert.deepEqual([build.compilerOptions.rootDir, build.compilerOptions.outDir], ["components", "bin"], "components/index.ts compiles to bin/index.js");
    });
});
