// Classes of input that Istio, GKE or the API server would refuse later (issue 22), one table per
// class, each with rows for valid neighbours. Every row goes through the program's own reader
// (readStackConfigFromAll), as `pulumi up` and the offline tools do; the refusal names stack
// settings only and says what is allowed.
import * as assert from "node:assert/strict";
import { FileContents, readStackConfigFromAll } from "../components/stack-config";
import { ConfigError, ConfigProblem } from "../components/validation";
import { PROJECT } from "./harness";

const GCP = { "gcp:project": "my-project-id", "gcp:region": "us-central1" };
/** An existing cluster (inline kubeconfig): rows about the workload need no GKE settings. */
export const EXISTING = { kubeconfig: "apiVersion: v1\nkind: Config\n" };

/** Stack settings as `pulumi config set` leaves them, plus the GCP provider settings (undefined: unset). */
export function allConfig(values: Record<string, string | string[] | undefined>): Record<string, string> {
    const all: Record<string, string> = {};
    for (const [key, value] of Object.entries({ ...GCP, ...values })) {
        if (value !== undefined) all[key.includes(":") ? key : `${PROJECT}:${key}`] = typeof value === "string" ? value : JSON.stringify(value);
    }
    return all;
}

/** What the reader says: the problems (undefined when accepted) and the warnings of an accepted stack. */
export function outcome(values: Record<string, string | string[] | undefined>, readFile = (_: string): FileContents => ({ missing: true })):
    { problems?: ConfigProblem[]; warnings: ConfigProblem[] } {
    try {
        return { warnings: readStackConfigFromAll(allConfig(values), PROJECT, "dev", readFile).warnings };
    } catch (e) {
        if (!(e instanceof ConfigError)) throw e;
        return { problems: e.problems, warnings: [] };
    }
}

/**
 * [what the user did, settings, the settings the refusal names (sorted) or "accepted", what the
 * message must say, the settings an accepted stack warns about (default none)].
 */
export type ClassRow = [string, Record<string, string | string[] | undefined>, string[] | "accepted", RegExp?, string[]?];

/** Argument paths and component words that a stack user never typed. */
const INTERNAL_NAMES = /(?<![.\w-])(nodePool|networkRanges|colors|resilience|tls|cluster|workload|mesh|certManager|existingGateway\w*)\.[a-z]|\bspec\.|\bjwtRules\b/;

/** Runs one table: each row refused with exactly the named settings, or accepted with exactly the named warnings. */
export function runTable(title: string, rows: ClassRow[], readFile?: (file: string) => FileContents): void {
    describe(title, () => {
        for (const [what, values, expected, pattern, warned = []] of rows) {
            it(`${expected === "accepted" ? "accepts" : "refuses"} a user who ${what}`, () => {
                const { problems, warnings } = outcome(values, readFile);
                const text = (list: ConfigProblem[]) => list.map((p) => `${p.setting}: ${p.message}`).join("\n");
                if (expected === "accepted") {
                    assert.equal(problems, undefined, problems && text(problems));
                    assert.deepEqual(warnings.map((w) => w.setting).sort(), [...warned].sort(), text(warnings));
                    if (pattern) assert.match(text(warnings), pattern);
                    return;
                }
                assert.ok(problems, `expected ${JSON.stringify(values)} to be refused`);
                assert.deepEqual(problems.map((p) => p.setting).sort(), expected, text(problems));
                if (pattern) assert.match(text(problems), pattern);
                assert.ok(!text(problems).includes("s3cr3t"), "a credential is never quoted");
                assert.doesNotMatch(text(problems), INTERNAL_NAMES, "messages name stack settings, not component arguments or CRD paths");
                for (const p of problems) assert.match(p.message, /allowed values|allowed:|allowed\b/i, `${p.setting} says what is allowed: ${p.message}`);
            });
        }
    });
}

runTable("issue 22: Istio's own validation, mirrored", [
    // Retries: 0 attempts turns retries off; Istio refuses 0 attempts with any other retry field.
    ["turns retries off", { retryAttempts: "0" }, "accepted"],
    ["turns retries off but sets a per-try timeout", { retryAttempts: "0", retryPerTryTimeout: "2s" }, ["retryPerTryTimeout"], /only applies with retryAttempts above 0/],
    ["turns retries off but sets retry conditions", { retryAttempts: "0", retryOn: "5xx" }, ["retryOn"], /set retryAttempts to 1 or more/],
    ["retries once with its own conditions", { retryAttempts: "1", retryOn: "5xx,503", retryPerTryTimeout: "2s" }, "accepted"],
    // Durations as Go and CEL read them, to the millisecond.
    ["sets a timeout finer than a millisecond", { routeTimeout: "1.5ms" }, ["routeTimeout"], /millisecond precision/],
    ["sets a per-try timeout in microseconds that is not whole milliseconds", { retryPerTryTimeout: "1500us" }, ["retryPerTryTimeout"], /millisecond precision/],
    ["sets a per-try timeout in whole milliseconds written in microseconds", { retryPerTryTimeout: "2000us" }, "accepted"],
    ["sets a timeout longer than Go can hold", { routeTimeout: "2562048h" }, ["routeTimeout"], /not a duration Istio can read/],
    ["sets the longest timeout Go holds, in whole milliseconds", { routeTimeout: "2562047h" }, "accepted"],
    ["sets a fractional timeout of whole milliseconds", { routeTimeout: "1.5s" }, "accepted"],
    ["sets a timeout without a unit", { routeTimeout: "15" }, ["routeTimeout"], /not a duration/],
    ["sets a negative timeout", { routeTimeout: "-1s" }, ["routeTimeout"], /minimum of 1ms/],
    // retryOn codes: what Go's net/http names.
    ["retries on a status code Go does not know", { retryOn: "connect-failure,599" }, ["retryOn"], /"599" unknown.*net\/http/],
    ["retries on a code that is not three digits", { retryOn: "50" }, ["retryOn"], /"50" unknown/],
    ["retries on codes Go knows", { retryOn: "503,429,425,connect-failure" }, "accepted"],
    ["puts a space after a comma", { retryOn: "5xx, 503" }, ["retryOn"], /" 503" unknown/],
    // Regexes: not empty, at most 1024 bytes, the generated cookie regex included.
    ["gives an empty header regex", { targetedRoutes: ["green:header-regex:x-user="] }, ["targetedRoutes[0]"], /empty regex/],
    ["gives a header regex over 1024 bytes", { targetedRoutes: [`green:header-regex:x-user=^${"a".repeat(1024)}$`] }, ["targetedRoutes[0]"], /over 1024 bytes/],
    ["gives a header regex of exactly 1024 bytes", { targetedRoutes: [`green:header-regex:x-user=^${"a".repeat(1022)}$`] }, "accepted"],
    ["gives a cookie value whose generated regex exceeds 1024 bytes", { targetedRoutes: [`green:cookie:beta=${"v".repeat(1005)}`] }, ["targetedRoutes[0]"], /over 1024 bytes/],
    ["gives a long cookie value whose regex still fits", { targetedRoutes: [`green:cookie:beta=${"v".repeat(1001)}`] }, "accepted"],
    // JWKS URLs as Istio parses them; the CRD's length limit named by setting.
    ["gives a JWKS URL without a host", { previewJwtIssuer: "https://issuer.example.com", previewJwtAudiences: '["preview"]', previewJwksUri: "https:///keys" }, ["previewJwksUri"], /not a well-formed https URL/],
    ["gives a JWKS URL with a port out of range", { previewJwtIssuer: "https://issuer.example.com", previewJwtAudiences: '["preview"]', previewJwksUri: "https://issuer.example.com:70000/keys" }, ["previewJwksUri"], /well-formed/],
    ["gives a JWKS URL with a broken escape", { previewJwtIssuer: "https://issuer.example.com", previewJwtAudiences: '["preview"]', previewJwksUri: "https://issuer.example.com/%zz" }, ["previewJwksUri"], /%XX/],
    ["gives a JWKS URL with a space in the host", { previewJwtIssuer: "https://issuer.example.com", previewJwtAudiences: '["preview"]', previewJwksUri: "https://issuer .example.com/keys" }, ["previewJwksUri"], /well-formed/],
    ["gives a JWKS URL with credentials", { previewJwtIssuer: "https://issuer.example.com", previewJwtAudiences: '["preview"]', previewJwksUri: "https://me:pw@issuer.example.com/keys" }, ["previewJwksUri"], /credentials/],
    ["gives a JWKS URL over Istio's 2048 characters", { previewJwtIssuer: "https://issuer.example.com", previewJwtAudiences: '["preview"]', previewJwksUri: `https://issuer.example.com/${"k".repeat(2030)}` }, ["previewJwksUri"], /2048/],
    ["gives a JWKS URL with a port, a query and escapes", { previewJwtIssuer: "https://issuer.example.com", previewJwtAudiences: '["preview"]', previewJwksUri: "https://issuer.example.com:8443/o/keys%2Fv3?kid=a&x=1" }, "accepted"],
    ["gives a JWKS URL on an IP address", { previewJwtIssuer: "https://issuer.example.com", previewJwtAudiences: '["preview"]', previewJwksUri: "https://192.0.2.10/keys" }, "accepted"],
]);

describe("issue 22: retries turned off reach Istio as 0 attempts alone", () => {
    it("sends { attempts: 0 } without the per-try timeout and conditions Istio would refuse with it", async () => {
        const { buildVirtualServiceSpec } = await import("../components/routing");
        const spec = (attempts: number) => buildVirtualServiceSpec({
            hosts: ["a.example.com"], gateways: ["ns/gw"], serviceHost: "nginx.ns.svc.cluster.local", servicePort: 80, headerName: "x-version",
            activeColor: "blue", retries: { attempts, perTryTimeout: "5s", retryOn: "connect-failure" },
        });
        for (const route of spec(0).http) assert.deepEqual(route.retries, { attempts: 0 }, route.name);
        for (const route of spec(2).http) assert.deepEqual(route.retries, { attempts: 2, perTryTimeout: "5s", retryOn: "connect-failure" }, route.name);
    });
});

runTable("issue 22: the Istio install", [
    // The CNI platform profile of the cluster this stack builds.
    ["installs Istio CNI with the minikube profile on the GKE cluster it builds", { istioPlatform: "minikube" }, ["istioPlatform"], /builds a GKE cluster.*allowed values: gke/],
    ["installs Istio CNI with the OpenShift profile on the GKE cluster it builds", { istioPlatform: "openshift" }, ["istioPlatform"], /builds a GKE cluster/],
    ["names the GKE profile on the GKE cluster it builds", { istioPlatform: "gke" }, "accepted"],
    ["leaves the profile to the default on the GKE cluster it builds", { istioPlatform: "" }, "accepted"],
    ["uses the k3d profile on an existing cluster", { ...EXISTING, istioPlatform: "k3d" }, "accepted"],
    // Chart versions: refused when certainly never released, warned when newer than the dated list.
    ["pins a patch after the end of a closed minor", { istioVersion: "1.26.99" }, ["istioVersion"], /not an Istio release \(Istio 1\.26 ended at 1\.26\.8\)/],
    ["pins a release older than the oldest this package installs", { istioVersion: "1.23.5" }, ["istioVersion"], /older than 1\.24\.0/],
    ["pins the last patch of a closed minor", { istioVersion: "1.26.8" }, "accepted"],
    ["pins an old supported patch", { istioVersion: "1.24.0" }, "accepted"],
    ["pins the default release", { istioVersion: "1.31.4" }, "accepted"],
    ["pins a patch newer than the list of a minor still supported", { istioVersion: "1.31.5" }, "accepted", /newer than the Istio releases this package knows \(listed on 2026-12-01\)/, ["istioVersion"]],
    ["pins a minor newer than the list", { istioVersion: "1.33.0" }, "accepted", /used as given/, ["istioVersion"]],
    ["pins a pre-release", { istioVersion: "1.32.0-beta.0" }, ["istioVersion"], /exact Istio release/],
    // Chart repositories: usable URLs or paths.
    ["gives a repository URL without a host", { istioChartRepository: "https://" }, ["istioChartRepository"], /not a usable chart repository/],
    ["gives a repository URL with a space", { istioChartRepository: "https://charts example.com/istio" }, ["istioChartRepository"], /not a usable/],
    ["gives a repository URL with a port out of range", { istioChartRepository: "oci://registry.example.com:0/istio" }, ["istioChartRepository"], /port 1-65535/],
    ["gives a relative directory", { istioChartRepository: "charts/istio" }, ["istioChartRepository"], /absolute path/],
    ["gives the root directory", { istioChartRepository: "/" }, ["istioChartRepository"], /not a directory of charts/],
    ["gives a plain http repository", { istioChartRepository: "http://charts.example.com/istio" }, ["istioChartRepository"], /https:\/\/ or oci:\/\//],
    // Credentials would be printed in clear (manifest header, resources.json, Helm release inputs in the state): refused, never quoted.
    ["puts a user and password in the repository URL", { istioChartRepository: "https://deployer:s3cr3t-pw@charts.example.com/istio" }, ["istioChartRepository"], /holds credentials.*pulumi config set --secret/],
    ["puts a token in the repository URL's query", { istioChartRepository: "https://charts.example.com/istio?token=s3cr3t-pw" }, ["istioChartRepository"], /holds credentials/],
    ["puts a user in an OCI registry URL", { istioChartRepository: "oci://robot@registry.example.com/istio" }, ["istioChartRepository"], /holds credentials/],
    ["gives an OCI registry with a port", { istioChartRepository: "oci://registry.example.com:5000/istio/charts" }, "accepted"],
    ["gives an absolute directory", { istioChartRepository: "/srv/charts/istio/" }, "accepted"],
    ["gives the official repository", { istioChartRepository: "https://istio-release.storage.googleapis.com/charts" }, "accepted"],
]);

describe("issue 22: the offline tool's option keys", () => {
    it("keeps keys such as __proto__ as keys, so the program refuses them instead of never seeing them", async () => {
        const { parseOverrides } = await import("../offline/stack-files");
        for (const key of ["__proto__", "constructor", "toString"]) {
            const overrides = parseOverrides([`${key}=x`, "activeColor=green"]);
            assert.deepEqual(Object.keys(overrides).sort(), [key, "activeColor"].sort(), key);
            assert.match(outcome({ ...overrides }).problems?.map((p) => `${p.setting}: ${p.message}`).join("\n") ?? "accepted", new RegExp(`^${key}: is not a setting`, "m"));
        }
    });
});

/** `count` distinct /32 ranges from 203.0.113.0 on. */
const networks = (count: number) => Array.from({ length: count }, (_, i) => `203.0.${113 + Math.floor(i / 256)}.${i % 256}/32`);

runTable("issue 22: GCP and GKE", [
    // Project IDs with words GCP reserves.
    ["uses a project ID containing google", { "gcp:project": "my-google-app" }, ["gcp:project"], /contains "google".*google, null, undefined, ssl/],
    ["uses a project ID containing ssl", { "gcp:project": "web-ssl-prod" }, ["gcp:project"], /contains "ssl"/],
    ["uses a project ID containing undefined", { "gcp:project": "undefined-1234" }, ["gcp:project"], /contains "undefined"/],
    ["uses a project ID with a near miss of a reserved word", { "gcp:project": "goggle-nul-sl-prod" }, "accepted"],
    // Locations and machine types: refused when GKE certainly refuses, warned when a dated list does not know them.
    ["runs nodes on f1-micro", { machineType: "f1-micro" }, ["machineType"], /GKE refuses for nodes/],
    ["runs nodes on g1-small", { machineType: "g1-small" }, "accepted"],
    ["runs nodes on a custom N1 type", { machineType: "custom-4-8192" }, "accepted"],
    ["runs nodes on a series newer than the list", { machineType: "q9-standard-4" }, "accepted", /machine series the list of 2026-12-01 does not include/, ["machineType"]],
    ["builds in a region the list does not know", { clusterLocation: "us-central9" }, "accepted", /region the GCP regions listed on 2026-12-01 do not include/, ["clusterLocation"]],
    ["builds in a zone of a region the list does not know, given as gcp:region", { "gcp:region": "mars-north1-a" }, "accepted", /used as given/, ["gcp:region"]],
    ["builds in a known zone", { clusterLocation: "europe-west4-b" }, "accepted"],
    // Artifact Registry locations and grants.
    ["grants a repository in a zone", { imageRepositories: ["us-central1-a/apps"] }, ["imageRepositories[0]"], /never a zone.*us-central1\/apps/],
    ["grants a repository in a location that is neither region nor multi-region", { imageRepositories: ["global/apps"] }, ["imageRepositories[0]"], /neither a region nor a multi-region/],
    ["grants one repository twice", { imageRepositories: ["us-central1/apps", "my-project-id/us-central1/apps"] }, ["imageRepositories[1]"], /again \(imageRepositories\[0\] names the same repository\)/],
    ["grants two repositories and a multi-region one", { imageRepositories: ["us-central1/apps", "other-project/us-central1/apps", "europe/base"] }, "accepted"],
    ["grants a repository in a region the list does not know", { imageRepositories: ["us-central9/apps"] }, "accepted", /does not include/, ["imageRepositories[0]"]],
    // Ranges GCP prohibits, and the control plane's range.
    ["puts the pods in loopback", { podsCidr: "127.0.0.0/14" }, ["podsCidr"], /loopback/],
    ["puts the services in multicast", { servicesCidr: "224.0.0.0/20" }, ["servicesCidr"], /multicast/],
    ["puts the nodes in link-local", { nodesCidr: "169.254.0.0/20" }, ["nodesCidr"], /link-local/],
    ["puts the control plane in 0.0.0.0/8", { privateNodes: "true", masterCidr: "0.0.0.0/28" }, ["masterCidr"], /"this network"/],
    ["uses class E addresses for pods (GCP allows them)", { podsCidr: "240.0.0.0/14" }, "accepted"],
    ["puts the control plane inside the node range", { privateNodes: "true", masterCidr: "10.10.0.0/28" }, ["masterCidr"], /overlaps nodesCidr/],
    ["puts the control plane inside the pod range", { privateNodes: "true", masterCidr: "10.20.0.16/28" }, ["masterCidr"], /overlaps podsCidr/],
    ["puts the control plane next to the service range", { privateNodes: "true", masterCidr: "10.24.16.0/28" }, "accepted"],
    // Authorized networks: 50 without private nodes, 100 with them.
    ["authorizes 51 networks without private nodes", { masterAuthorizedNetworks: networks(51) }, ["masterAuthorizedNetworks"], /at most 50 ranges here/],
    ["authorizes 50 networks without private nodes", { masterAuthorizedNetworks: networks(50) }, "accepted"],
    ["authorizes 100 networks with private nodes", { privateNodes: "true", masterAuthorizedNetworks: networks(100) }, "accepted"],
    ["authorizes 101 networks with private nodes", { privateNodes: "true", masterAuthorizedNetworks: networks(101) }, ["masterAuthorizedNetworks"], /at most 100/],
]);

/** Paths the kubeconfig rows name, and what the file system holds there. */
const FILES: Record<string, FileContents> = {
    "/kube/config": { text: "apiVersion: v1\nkind: Config\nusers:\n- name: ci\n  user:\n    token: s3cr3t-t0ken\n" },
    "/kube": { directory: true },
    "/kube/broken": { text: "apiVersion: v1\nusers: [ {name: ci, token: s3cr3t-t0ken\n" },
    "/kube/list": { text: "- s3cr3t-t0ken\n" },
};
const readFile = (file: string): FileContents => FILES[file] ?? { missing: true };

runTable("issue 22: Kubernetes", [
    // A namespace every cluster has, taken for creation (destroy would delete it).
    ["creates and owns the default namespace", { ...EXISTING, namespace: "default" }, ["namespace"], /every cluster already has.*set createNamespace to false/],
    ["uses the default namespace without creating it", { ...EXISTING, namespace: "default", createNamespace: "false" }, "accepted"],
    ["uses kube-system without creating it", { ...EXISTING, namespace: "kube-system", createNamespace: "false" }, ["namespace"], /Kubernetes itself/],
    ["creates a namespace of its own", { ...EXISTING, namespace: "default-app" }, "accepted"],
    // Kubeconfigs that are directories or not YAML; the value is never quoted.
    ["gives a directory as kubeconfig", { kubeconfig: "/kube" }, ["kubeconfig"], /names a directory/],
    ["gives a kubeconfig file that is not YAML", { kubeconfig: "/kube/broken" }, ["kubeconfig"], /not valid YAML \(line \d+, column \d+\)/],
    ["gives a kubeconfig file that is a YAML list", { kubeconfig: "/kube/list" }, ["kubeconfig"], /not a mapping/],
    ["gives an inline kubeconfig that is not YAML", { kubeconfig: "apiVersion: v1\nusers: [ {token: s3cr3t\n" }, ["kubeconfig"], /given inline but is not valid YAML/],
    ["gives an inline kubeconfig as JSON", { kubeconfig: JSON.stringify({ apiVersion: "v1", kind: "Config", clusters: [] }) }, "accepted"],
    ["gives a kubeconfig file", { kubeconfig: "/kube/config" }, "accepted"],
], readFile);

runTable("issue 22: valid inputs that were refused", [
    // An existing gateway in the app's own namespace, which the stack does not create.
    ["runs an existing gateway in the app's namespace, which it does not create", { ...EXISTING, installIstio: "false", ingressGatewayNamespace: "team-a", namespace: "team-a", createNamespace: "false" }, "accepted"],
    ["does so with TLS at that gateway", { ...EXISTING, installIstio: "false", ingressGatewayNamespace: "team-a", namespace: "team-a", createNamespace: "false", tlsCredentialName: "team-a-tls" }, "accepted"],
    ["creates the namespace an existing gateway runs in", { ...EXISTING, installIstio: "false", ingressGatewayNamespace: "team-a", namespace: "team-a" }, ["namespace"], /ingress gateway/],
    ["shares the namespace of the gateway this stack installs", { namespace: "istio-ingress", createNamespace: "false" }, ["namespace"], /ingress gateway/],
    // ClusterIssuer names are DNS subdomains.
    ["names a ClusterIssuer with dots", { tlsCredentialName: "sample-tls", certIssuer: "letsencrypt.prod" }, "accepted"],
    ["names a ClusterIssuer with an underscore", { tlsCredentialName: "sample-tls", certIssuer: "letsencrypt_prod" }, ["certIssuer"], /DNS subdomain/],
    ["names a ClusterIssuer ending in a dot", { tlsCredentialName: "sample-tls", certIssuer: "letsencrypt." }, ["certIssuer"], /DNS subdomain/],
]);

runTable("issue 22: preview access that admits everyone (warned: open under another name)", [
    ["allows 0.0.0.0/0", { previewSourceCidrs: ["0.0.0.0/0"] }, "accepted", /cover every IPv4 address.*as with previewAccess open/, ["previewSourceCidrs"]],
    ["allows both halves of IPv4", { previewSourceCidrs: ["0.0.0.0/1", "128.0.0.0/1"] }, "accepted", /anyone on the internet/, ["previewSourceCidrs"]],
    ["allows half of IPv4", { previewSourceCidrs: ["0.0.0.0/1"] }, "accepted"],
    ["allows its testers' networks", { previewSourceCidrs: ["203.0.113.0/24", "198.51.100.7/32"] }, "accepted"],
]);

describe("issue 22: the program shows the warnings", function () {
    this.timeout(60_000);
    it("logs each warning under its stack key and still declares the stack", async () => {
        const { evaluate, useMocks } = await import("./harness");
        const { loadProgram } = await import("../offline/program");
        await useMocks("dev");
        const program = await loadProgram();
        const logged: string[] = [];
        const original = console.warn;
        console.warn = (...args: unknown[]) => { logged.push(args.join(" ")); };
        let ev;
        try {
            ev = await evaluate(program, allConfig({ ...EXISTING, previewSourceCidrs: ["0.0.0.0/1", "128.0.0.0/1"], istioVersion: "1.31.5" }));
        } finally {
            console.warn = original;
        }
        assert.equal(ev.error, undefined, ev.error?.message);
        assert.ok(ev.resources.some((r) => r.inputs.kind === "VirtualService"));
        assert.deepEqual(logged.filter((l) => /previewSourceCidrs: together cover every IPv4 address/.test(l)).length, 1, logged.join("\n"));
        assert.deepEqual(logged.filter((l) => /istioVersion: is 1\.31\.5, newer than the Istio releases this package knows/.test(l)).length, 1, logged.join("\n"));
    });
});

runTable("issue 22: CRD length limits named by setting", [
    ["registers 257 ports for one external host", { ...EXISTING, externalServices: Array.from({ length: 257 }, (_, i) => `tcp://db.example.com:${1000 + i}`) }, ["externalServices[0].ports"], /at most 256 ports per host/],
    ["registers 256 ports for one external host", { ...EXISTING, externalServices: Array.from({ length: 256 }, (_, i) => `tcp://db.example.com:${1000 + i}`) }, "accepted"],
]);

runTable("issue 19: the health gate's settings", [
    ["sets the gate to a mode that does not exist", { healthGate: "strict" }, ["healthGate"], /got "strict"; allowed values: enforce, warn, off/],
    ["lets the gate warn only", { healthGate: "warn" }, "accepted"],
    ["sets a window shorter than two scrape intervals plus the ingestion delay", { healthGateWindow: "1m" }, ["healthGateWindow"], /too short.*two 30s scrape intervals plus 60s of ingestion delay/],
    ["sets the shortest window", { healthGateWindow: "2m" }, "accepted"],
    ["writes the window as a Go duration of two units", { healthGateWindow: "1m30s" }, ["healthGateWindow"], /a PromQL range of one unit/],
    ["gives the success rate as a percentage", { healthGateMinSuccessRate: "99" }, ["healthGateMinSuccessRate"], /a number from 0 to 1, e\.g\. 0\.99/],
    ["gives a p99 bound of 0", { healthGateMaxP99Ms: "0" }, ["healthGateMaxP99Ms"], /a whole number from 1 to 3600000/],
    ["gives a negative minimum of requests", { healthGateMinRequests: "-5" }, ["healthGateMinRequests"], /a whole number from 0/],
    ["requires data with yes", { healthGateRequireData: "yes" }, ["healthGateRequireData"], /allowed values: true, false/],
    ["points the gate at a range-query URL", { healthGateQueryUrl: "http://prometheus:9090/api/v1/query_range" }, ["healthGateQueryUrl"], /ending in \/api\/v1\/query/],
    ["puts credentials in the query URL", { healthGateQueryUrl: "https://admin:s3cr3t@prometheus.example.com/api/v1/query" }, ["healthGateQueryUrl"], /credentials before the host \(the value is not shown\)/],
    ["points the gate at a Prometheus of their own", { healthGateQueryUrl: "http://prometheus.monitoring.svc:9090/api/v1/query" }, "accepted"],
    ["writes a check without a bound", { healthGateChecks: ["upstream: sum(up)"] }, ["healthGateChecks[0]"], /"<name>: <PromQL> <= <number>"/],
    ["writes a check with an unknown placeholder", { healthGateChecks: ["pods: count(up{pod=\"{{pod}}\"}) >= 1"] }, ["healthGateChecks[0]"], /unknown placeholder \{\{pod\}\}/],
    ["writes a check with the placeholders", { healthGateChecks: ["upstream 503s: sum(increase(istio_requests_total{destination_workload=\"{{workload}}\",response_code=\"503\"}[{{window}}])) <= 0"] }, "accepted"],
    ["gives a query timeout of 0", { healthGateQueryTimeoutSeconds: "0" }, ["healthGateQueryTimeoutSeconds"], /from 1 to 120/],
    ["tunes the gate while it is off", { healthGate: "off", healthGateWindow: "10m" }, ["healthGateWindow"], /only applies with healthGate enforce or warn/],
    ["turns the gate off", { healthGate: "off" }, "accepted"],
]);
