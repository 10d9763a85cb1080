import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { parse } from "yaml";
import { BLUE_GREEN_DEFAULTS } from "../components/blue-green-service";
import { parseExternalEndpoint } from "../components/external-services";
import { ConfigError } from "../components/validation";
import { readStackConfig } from "../components/stack-config";
import { loadStackConfig } from "../offline/stack-files";
import { checkHostList, checkPinnedImage } from "../components/validation";

const root = path.join(__dirname, "..");
const project = parse(fs.readFileSync(path.join(root, "Pulumi.yaml"), "utf8"));

/** A getter over plain values, as `pulumi config set` would store them (arrays as JSON). */
function getter(values: Record<string, unknown>) {
    return (key: string) => {
        const v = values[key];
        return v === undefined ? undefined : typeof v === "string" ? v : JSON.stringify(v);
    };
}

/** Provider settings every GKE stack needs. */
const GCP = { "gcp:project": "my-project-id", "gcp:region": "us-central1" };

/** Reads settings (plus the GCP provider settings) for a stack. */
function read(values: Record<string, unknown>, stack = "dev") {
    return readStackConfig(getter({ ...GCP, ...values }), stack).environment;
}

/** The ConfigError thrown for `values`, failing when none is thrown. */
function problemsFor(values: Record<string, unknown>, stack = "dev"): ConfigError {
    try {
        readStackConfig(getter({ ...GCP, ...values }), stack);
    } catch (e) {
        assert.ok(e instanceof ConfigError, `expected a ConfigError, got ${e}`);
        return e;
    }
    assert.fail(`expected ${JSON.stringify(values)} to be refused`);
}

describe("stack config", () => {
    it("needs only the GCP project and region, and applies the defaults", () => {
        const env = read({});
        assert.equal(env.workload.activeColor, "blue");
        assert.equal(env.workload.createNamespace, true);
        assert.equal(read({ createNamespace: "false" }).workload.createNamespace, false);
        assert.deepEqual(env.workload.colors, BLUE_GREEN_DEFAULTS.colors);
        assert.equal(env.kubeconfig, undefined);
        assert.equal(env.cluster?.project, "my-project-id");
        assert.equal(env.cluster?.location, "us-central1");
        assert.equal(env.cluster?.releaseChannel, "REGULAR");
        assert.deepEqual(env.mesh, { version: "1.31.4", repository: "https://istio-release.storage.googleapis.com/charts", mtlsMode: "STRICT", ingressReplicas: 2 });
    });

    it("declares every setting it reads in Pulumi.yaml, with a type and description, and the same defaults", () => {
        const keys = new Set<string>();
        readStackConfig((key) => { keys.add(key); return (GCP as Record<string, string>)[key]; }, "dev");
        const ours = [...keys].filter((k) => !k.includes(":"));
        assert.deepEqual(ours.sort(), Object.keys(project.config).sort());
        for (const [key, decl] of Object.entries<any>(project.config)) {
            assert.ok(["string", "integer", "boolean", "array"].includes(decl.type), `${key} has a type`);
            assert.ok(decl.description, `${key} has a description`);
        }
        // Reading Pulumi.yaml's defaults gives exactly the code's defaults.
        const defaults = Object.fromEntries(Object.entries<any>(project.config).filter(([, d]) => d.default !== undefined).map(([k, d]) => [k, d.default]));
        assert.deepEqual(read(defaults), read({}));
    });

    it("reads imageRepositories and clusterIdentifier, and refuses them where they make no sense", () => {
        assert.deepEqual(read({ imageRepositories: ["us-central1/apps", "shared-images/us/base"] }).cluster?.imageRepositories, [
            { location: "us-central1", repository: "apps" }, { project: "shared-images", location: "us", repository: "base" },
        ]);
        assert.deepEqual(problemsFor({ imageRepositories: ["apps"] }).problems.map((p) => p.setting), ["imageRepositories[0]"]);
        assert.match(problemsFor({ clusterIdentifier: "x" }).message, /clusterIdentifier: is "x" but only applies with kubeconfig set .*; allowed values: unset \(pulumi config rm clusterIdentifier\), or set kubeconfig too/);
        assert.equal(read({ kubeconfig: "apiVersion: v1\nkind: Config\n", clusterIdentifier: "prod-eu" }).clusterIdentifier, "prod-eu");
    });

    it("reads the example dev stack", () => {
        // Read the way the CLI assembles it: Pulumi.yaml defaults, then Pulumi.dev.yaml.
        const config = loadStackConfig("dev");
        const env = readStackConfig((key) => config[key.includes(":") ? key : `gke-istio-bluegreen:${key}`], "dev").environment;
        assert.equal(env.workload.activeColor, "blue");
        assert.equal(env.cluster?.project, "my-gcp-project-id");
        assert.deepEqual(env.workload.externalServices, [
            { name: "external-db-example-com", hosts: ["db.example.com"], ports: [{ number: 5432, protocol: "TCP" }] },
        ]);
    });

    for (const color of ["purple", "Blue", "GREEN", "", " blue"]) {
        it(`refuses activeColor=${JSON.stringify(color)}, naming the allowed values`, () => {
            const error = problemsFor({ activeColor: color });
            assert.equal(error.problems.length, 1);
            assert.equal(error.problems[0].setting, "activeColor");
            assert.match(error.message, /activeColor: got .*; allowed values: blue, green/);
        });
    }

    for (const replicas of ["abc", "-1", "1.5", "", "1e3x", "1001"]) {
        it(`refuses blueReplicas=${JSON.stringify(replicas)}`, () => {
            const error = problemsFor({ blueReplicas: replicas });
            assert.deepEqual(error.problems.map((p) => p.setting), ["blueReplicas"]);
            assert.match(error.message, /allowed values: a whole number from 0 to 1000/);
        });
    }

    it("refuses an active color scaled to zero but allows parking the idle one", () => {
        const error = problemsFor({ activeColor: "green", greenReplicas: "0" });
        assert.deepEqual(error.problems.map((p) => p.setting), ["greenReplicas"]);
        assert.match(error.message, /green is the active color/);
        assert.equal(read({ activeColor: "green", blueReplicas: "0" }).workload.colors.blue.replicas, 0);
    });

    it("refuses an empty host list, a non-list and invalid DNS hosts", () => {
        assert.deepEqual(problemsFor({ hosts: [] }).problems.map((p) => p.setting), ["hosts"]);
        assert.deepEqual(problemsFor({ hosts: "sample.hoge.com" }).problems.map((p) => p.setting), ["hosts"]);
        const error = problemsFor({ hosts: ["ok.example.com", "bad_host.example.com", "UPPER.example.com", "nodot", "-a.example.com"] });
        assert.deepEqual(error.problems.map((p) => p.setting), ["hosts[1]", "hosts[2]", "hosts[3]", "hosts[4]"]);
        assert.match(error.message, /hosts\[1\]: got "bad_host.example.com"; allowed values: a non-empty list of lowercase DNS names/);
    });

    it("refuses an unknown or lowercase load-balancer policy", () => {
        for (const lb of ["WEIGHTED", "round_robin", ""]) {
            assert.match(problemsFor({ loadBalancer: lb }).message, /loadBalancer: got .*; allowed values: ROUND_ROBIN, LEAST_REQUEST, RANDOM/);
        }
    });

    it("refuses unpinned images under the per-color setting name", () => {
        const error = problemsFor({ blueImage: "nginx", greenImage: "nginx:latest" });
        assert.deepEqual(error.problems.map((p) => p.setting), ["blueImage", "greenImage"]);
    });

    it("refuses bad names, header names and revisions", () => {
        const error = problemsFor({ namespace: "Sample_NS", appName: "1nginx", headerName: "X-Version", istioRevision: "1.31" });
        assert.deepEqual(error.problems.map((p) => p.setting).sort(), ["appName", "headerName", "istioRevision", "namespace"]);
    });

    it("reports every bad setting at once", () => {
        const error = problemsFor({ activeColor: "purple", greenReplicas: "-3", hosts: [], loadBalancer: "FASTEST" });
        assert.deepEqual(error.problems.map((p) => p.setting).sort(), ["activeColor", "greenReplicas", "hosts", "loadBalancer"]);
    });

    it("parses external endpoints and merges ports of one host", () => {
        const env = read({ externalServices: ["tcp://db.example.com:5432", "tcp://db.example.com:5433", "https://api.example.com:443"] });
        assert.deepEqual(env.workload.externalServices, [
            { name: "external-db-example-com", hosts: ["db.example.com"], ports: [{ number: 5432, protocol: "TCP" }, { number: 5433, protocol: "TCP" }] },
            { name: "external-api-example-com", hosts: ["api.example.com"], ports: [{ number: 443, protocol: "HTTPS" }] },
        ]);
        const error = problemsFor({ externalServices: ["db.example.com:5432", "ftp://a.example.com:21", "tcp://10.0.0.1:5432", "tcp://a.example.com:70000"] });
        assert.deepEqual(error.problems.map((p) => p.setting), ["externalServices[0]", "externalServices[1]", "externalServices[2]", "externalServices[3] port"]);
    });

    it("targets an existing cluster when kubeconfig is set, needing no GCP settings", () => {
        const env = readStackConfig(getter({ kubeconfig: "/tmp/kubeconfig" }), "prod", { readFile: (f) => (f === "/tmp/kubeconfig" ? { text: "apiVersion: v1\nkind: Config\n" } : { missing: true }) }).environment;
        assert.equal(env.cluster, undefined);
        assert.equal(env.kubeconfig, "/tmp/kubeconfig");
    });

    it("needs gcp:project and a location to build a cluster", () => {
        try {
            readStackConfig(getter({}), "dev");
            assert.fail("expected a ConfigError");
        } catch (e) {
            assert.ok(e instanceof ConfigError);
            assert.deepEqual(e.problems.map((p) => p.setting), ["gcp:project", "clusterLocation"]);
            assert.match(e.message, /gcp:project: is not set; allowed values: your GCP project ID/);
        }
        assert.equal(read({ "gcp:region": undefined, clusterLocation: "europe-west1-b" }).cluster?.location, "europe-west1-b");
    });

    it("turns deletion protection on for every stack but dev unless set", () => {
        assert.equal(read({}, "dev").cluster?.deletionProtection, false);
        assert.equal(read({}, "prod").cluster?.deletionProtection, true);
        assert.equal(read({ deletionProtection: "false" }, "prod").cluster?.deletionProtection, false);
        assert.match(problemsFor({ deletionProtection: "yes" }).message, /deletionProtection: got "yes"; allowed values: auto \(on for every stack but dev\), true, false/);
        assert.equal(read({ deletionProtection: "auto" }, "prod").cluster?.deletionProtection, true);
        assert.equal(read({ kubeconfig: "", istioRevision: "", trafficWeights: "", idleReplicas: "" }).cluster?.project, "my-project-id", "empty optional settings mean unset");
    });

    it("refuses an unknown release channel, min > max nodes and malformed CIDRs", () => {
        assert.match(problemsFor({ releaseChannel: "FAST" }).message, /releaseChannel: got "FAST"; allowed values: RAPID, REGULAR, STABLE, EXTENDED/);
        const minMax = problemsFor({ minNodes: "5", maxNodes: "2" });
        assert.deepEqual(minMax.problems.map((p) => p.setting), ["minNodes"]);
        assert.match(minMax.message, /minNodes: is 5, more than maxNodes \(2\)/);
        const cidrs = problemsFor({ nodesCidr: "10.10.0.0/33", podsCidr: "10.20.0.1/14", servicesCidr: "banana", privateNodes: "true", masterCidr: "172.16.0.0/24", masterAuthorizedNetworks: ["1.2.3.4"] });
        assert.deepEqual(cidrs.problems.map((p) => p.setting).sort(), ["masterAuthorizedNetworks[0]", "masterCidr", "nodesCidr", "podsCidr", "servicesCidr"]);
        assert.match(cidrs.message, /allowed values: an IPv4 CIDR/);
        assert.match(problemsFor({ podsCidr: "10.10.0.0/16" }).message, /podsCidr: 10.10.0.0\/16 overlaps nodesCidr/);
        assert.match(problemsFor({ clusterName: "Bad_Name" }).message, /clusterName: got "Bad_Name"/);
    });

    it("refuses a bad Istio version, mTLS mode or gateway replica count", () => {
        const error = problemsFor({ istioVersion: "latest", mtlsMode: "OFF", ingressReplicas: "1" });
        assert.deepEqual(error.problems.map((p) => p.setting).sort(), ["ingressReplicas", "istioVersion", "mtlsMode"]);
    });

    it("uses an existing mesh's gateway selector only when Istio is not installed here", () => {
        const env = read({ installIstio: "false", ingressGatewaySelector: "istio=ingressgateway,app=istio-ingressgateway" });
        assert.equal(env.installMesh, false);
        assert.equal(env.mesh, undefined);
        assert.deepEqual(env.existingGatewaySelector, { istio: "ingressgateway", app: "istio-ingressgateway" });
        assert.match(problemsFor({ ingressGatewaySelector: "istio=ingress" }).message, /ingressGatewaySelector: is "istio=ingress" but only applies with installIstio false/);
        assert.match(problemsFor({ installIstio: "false", ingressGatewaySelector: "istio" }).message, /ingressGatewaySelector: got "istio"; allowed values: pod labels/);
    });

    it("reads the progressive-delivery settings", () => {
        const env = read({
            trafficWeights: "blue=90,green=10", targetedRoutes: ["green:header:x-internal-user=true", "green:source:app=checkout"],
            mirrorToIdle: "0", idleReplicas: "1", meshRouting: "false", tlsCredentialName: "sample-tls", httpsRedirect: "true",
            certIssuer: "letsencrypt", installCertManager: "true", routeTimeout: "30s", retryAttempts: "3", retryPerTryTimeout: "10s",
        });
        const w = env.workload;
        assert.deepEqual(w.trafficWeights, { blue: 90, green: 10 });
        assert.deepEqual(w.targetedRoutes.map((r) => [r.name, r.color]), [["target-0-green", "green"], ["target-1-green", "green"]]);
        assert.equal(w.idleReplicas, 1);
        assert.equal(w.meshRouting, false);
        assert.deepEqual(w.tls, { credentialName: "sample-tls", httpsRedirect: true, gatewayNamespace: "istio-ingress", certificate: { issuerName: "letsencrypt", issuerKind: "ClusterIssuer" } });
        assert.deepEqual(env.certManager, { version: "v1.21.2" });
        assert.equal(w.resilience.timeout, "30s");
        assert.deepEqual(w.resilience.retries, { attempts: 3, perTryTimeout: "10s", retryOn: "connect-failure,refused-stream,reset-before-request" });
        const existing = read({ installIstio: "false", ingressGatewayNamespace: "edge", tlsCredentialName: "t" });
        assert.equal(existing.workload.tls?.gatewayNamespace, "edge");
    });

    it("refuses bad progressive-delivery settings, naming each", () => {
        const cases: [Record<string, unknown>, string, RegExp][] = [
            [{ trafficWeights: "blue=90,green=20" }, "trafficWeights", /weights sum to 110; allowed values: whole numbers that sum to 100/],
            [{ trafficWeights: "blue=50,green=50", greenReplicas: "0" }, "greenReplicas", /is 0 but trafficWeights sends 50% to green/],
            [{ targetedRoutes: ["purple:header:a=b"] }, "targetedRoutes[0]", /got "purple"; allowed values: blue, green/],
            [{ targetedRoutes: ["green:header:a=b"], greenReplicas: "0" }, "greenReplicas", /targeted route target-0-green sends to green/],
            [{ mirrorToIdle: "150" }, "mirrorToIdle", /a whole number from 0 to 100/],
            [{ mirrorToIdle: "10", trafficWeights: "blue=90,green=10" }, "mirrorToIdle", /already sends 10% of live traffic to green/],
            [{ idleReplicas: "0", mirrorToIdle: "10" }, "idleReplicas", /is 0 but mirrorToIdle shadows traffic to green/],
            [{ activeColor: "green", idleReplicas: "-1" }, "idleReplicas", /a whole number from 0 to 1000/],
            [{ tlsCredentialName: "Bad_Name" }, "tlsCredentialName", /a Secret name/],
            [{ certIssuer: "letsencrypt" }, "certIssuer", /only applies with tlsCredentialName set/],
            [{ routeTimeout: "15" }, "routeTimeout", /not a duration Istio can read/],
            [{ retryAttempts: "11" }, "retryAttempts", /0 to 10/],
            [{ httpsRedirect: "yes", tlsCredentialName: "t" }, "httpsRedirect", /true, false/],
            [{ ingressGatewayNamespace: "edge" }, "ingressGatewayNamespace", /only applies with installIstio false/],
            [{ installCertManager: "true", certManagerVersion: "1.21" }, "certManagerVersion", /an exact cert-manager release/],
        ];
        for (const [values, setting, pattern] of cases) {
            const error = problemsFor(values);
            const problem = error.problems.find((p) => p.setting === setting);
            assert.ok(problem, `${JSON.stringify(values)} is reported under ${setting}: ${error.message}`);
            assert.match(problem.message, pattern, JSON.stringify(values));
        }
    });
});

describe("validators", () => {
    it("accept pinned images and refuse latest, untagged and malformed ones", () => {
        for (const ok of ["nginx:1.27.5", "docker.io/library/nginx:1.27.5-alpine", "registry:5000/team/app:v2", `nginx@sha256:${"a".repeat(64)}`]) {
            assert.deepEqual(checkPinnedImage("image", ok), [], ok);
        }
        for (const bad of ["nginx", "nginx:latest", "registry:5000/team/app", "nginx:", "nginx@sha256:123", "", "nginx :1"]) {
            assert.equal(checkPinnedImage("image", bad).length, 1, bad);
        }
    });

    it("accept wildcard hosts and refuse duplicates", () => {
        assert.deepEqual(checkHostList("hosts", ["*.example.com"]), []);
        assert.match(checkHostList("hosts", ["a.example.com", "a.example.com"])[0].message, /more than once/);
        assert.equal(checkHostList("hosts", ["example.123"]).length, 1);
    });

    it("parse the external endpoint shorthand", () => {
        assert.deepEqual(parseExternalEndpoint("e", "mongo://m.example.com:27017").service?.ports, [{ number: 27017, protocol: "MONGO" }]);
        assert.equal(parseExternalEndpoint("e", 42).problems.length, 1);
    });
});
