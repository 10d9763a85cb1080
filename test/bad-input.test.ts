// Bad input, as a new user would give it: one table of (settings -> the settings a refusal names,
// or accepted), run through the very function the program calls (readStackConfigFromAll). Add a
// row to cover a new mistake.
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { parse } from "yaml";
import {
    DEPENDENT_SETTING_DEFAULTS, FileContents, PROVIDER_SETTINGS_READ, STACK_SETTINGS, readStackConfig, readStackConfigFromAll,
} from "../components/stack-config";
import { ConfigError, ConfigProblem } from "../components/validation";
import { loadProgram } from "../offline/program";
import { StackFileError, loadStackSettings } from "../offline/stack-files";
import { PROJECT, evaluate, useMocks } from "./harness";

const root = path.join(__dirname, "..");
const declared = parse(fs.readFileSync(path.join(root, "Pulumi.yaml"), "utf8")).config as Record<string, any>;

/** A kubeconfig path that exists for these tests (the check's file lookup is injected). */
const EXISTING_KUBECONFIG = "/home/user/.kube/config";
const INLINE_KUBECONFIG = "apiVersion: v1\nkind: Config\nusers:\n- name: ci\n  user:\n    token: s3cr3t-t0ken-value\n";
const fileExists = (file: string): FileContents => (file === EXISTING_KUBECONFIG ? { text: "apiVersion: v1\nkind: Config\n" } : { missing: true });
const GCP = { "gcp:project": "my-project-id", "gcp:region": "us-central1" };

/** Stack settings as `pulumi config set` leaves them (bare keys are this project's), plus the GCP provider settings. */
function allConfig(values: Record<string, string | string[] | undefined>): Record<string, string> {
    const all: Record<string, string> = {};
    for (const [key, value] of Object.entries({ ...GCP, ...values })) {
        if (value !== undefined) all[key.includes(":") ? key : `${PROJECT}:${key}`] = typeof value === "string" ? value : JSON.stringify(value);
    }
    return all;
}

/** The problems for `values`, or undefined when they are accepted; anything but a ConfigError fails. */
function problemsOf(values: Record<string, string | string[] | undefined>): ConfigProblem[] | undefined {
    try {
        readStackConfigFromAll(allConfig(values), PROJECT, "dev", fileExists);
        return undefined;
    } catch (e) {
        if (!(e instanceof ConfigError)) throw e;
        return e.problems;
    }
}

/** [what the user did, settings, the settings the refusal names (sorted) or "accepted", what the message must say]. */
type Row = [string, Record<string, string | string[] | undefined>, string[] | "accepted", RegExp?];

const TABLE: Row[] = [
    // Keys nobody reads.
    ["misspells activeColor", { activeColour: "green" }, ["activeColour"], /did you mean `activeColor`\?/],
    ["writes activeColor in the wrong case", { activecolor: "green" }, ["activecolor"], /did you mean `activeColor`\?/],
    ["drops a letter", { blueReplica: "3" }, ["blueReplica"], /did you mean `blueReplicas`\?/],
    ["invents a setting", { colour: "green", somethingElse: "1" }, ["colour", "somethingElse"], /not a setting of this project/],
    ["puts one of ours under the gcp namespace", { "gcp:activeColor": "green" }, ["gcp:activeColor"], /did you mean this project's setting `activeColor`\?/],
    ["puts one of ours under the kubernetes namespace", { "kubernetes:namespace": "team" }, ["kubernetes:namespace"], /`namespace`/],
    ["sets provider settings of their own", { "gcp:zone": "us-central1-a", "kubernetes:context": "kind", "pulumi:tags": "{}", "gcp:credentials": "{}" }, "accepted"],
    // Credentials.
    ["gives a kubeconfig inline", { kubeconfig: INLINE_KUBECONFIG }, "accepted"],
    ["gives an existing kubeconfig path", { kubeconfig: EXISTING_KUBECONFIG }, "accepted"],
    ["gives a kubeconfig path that does not exist", { kubeconfig: "/no/such/kubeconfig" }, ["kubeconfig"], /names a file that does not exist/],
    // What Istio or the API server would refuse.
    ["uses a lookahead in a header regex", { targetedRoutes: ["green:header-regex:x-user=^(?=qa).*"] }, ["targetedRoutes[0]"], /RE2/],
    ["uses a backreference in a header regex", { targetedRoutes: ["green:header-regex:x-user=(a)\\1"] }, ["targetedRoutes[0]"], /RE2/],
    ["uses an RE2 header regex", { targetedRoutes: ["green:header-regex:x-user=^qa-[0-9]+$"] }, "accepted"],
    ["lists a host twice", { hosts: ["a.example.com", "a.example.com"] }, ["hosts"], /more than once/],
    ["lists a host a wildcard covers", { hosts: ["*.example.com", "shop.example.com"] }, ["hosts"], /wildcard covers the other/],
    ["lists nested wildcards", { hosts: ["*.example.com", "*.eu.example.com"] }, ["hosts"], /wildcard covers the other/],
    ["lists a host covering the Service's own name", { hosts: ["*.svc.cluster.local"] }, ["hosts"], /the Service's own name/],
    ["lists distinct hosts", { hosts: ["a.example.com", "b.example.com", "*.shop.example.com"] }, "accepted"],
    ["sets a timeout below Istio's 1ms", { routeTimeout: "0.5ms" }, ["routeTimeout"], /minimum of 1ms/],
    ["sets a per-try timeout of zero", { retryPerTryTimeout: "0s" }, ["retryPerTryTimeout"], /minimum of 1ms/],
    ["sets the shortest timeout Istio takes", { routeTimeout: "1ms", retryPerTryTimeout: "1m30s" }, "accepted"],
    ["capitalises an image", { blueImage: "Nginx:1.27.5" }, ["blueImage"], /not a valid image reference/],
    ["gives a short digest", { blueImage: "nginx:1.27.5@sha256:abc" }, ["blueImage"], /not a valid image reference/],
    ["doubles a colon", { greenImage: "nginx::1.28.0" }, ["greenImage"], /not a valid image reference/],
    ["leaves a slash dangling", { greenImage: "team//nginx:1.28.0" }, ["greenImage"], /not a valid image reference/],
    ["uses a registry with a port and a digest", { blueImage: `registry.example.com:5000/team/nginx:1.27.5@sha256:${"0".repeat(64)}` }, "accepted"],
    ["names a color twice in the weights", { trafficWeights: "blue=50,blue=50" }, ["trafficWeights"], /names "blue" twice/],
    ["names a label twice in a source rule", { targetedRoutes: ["green:source:app=a,app=b"] }, ["targetedRoutes[0]"], /names "app" twice/],
    ["names a label twice in the gateway selector", { installIstio: "false", ingressGatewaySelector: "istio=a,istio=b" }, ["ingressGatewaySelector"], /names "istio" twice/],
    // Collisions.
    ["deploys into kube-system", { namespace: "kube-system" }, ["namespace"], /Kubernetes itself/],
    ["deploys into kube-node-lease", { namespace: "kube-node-lease" }, ["namespace"], /Kubernetes itself/],
    ["deploys into istio-system", { namespace: "istio-system" }, ["namespace"], /Istio control plane/],
    ["deploys into the installed ingress gateway's namespace", { namespace: "istio-ingress" }, ["namespace"], /ingress gateway/],
    ["deploys into an existing gateway's namespace", { installIstio: "false", ingressGatewayNamespace: "edge", namespace: "edge" }, ["namespace"], /ingress gateway/],
    ["deploys into cert-manager's namespace", { installCertManager: "true", namespace: "cert-manager" }, ["namespace"], /cert-manager/],
    ["registers two hosts that map to one ServiceEntry", { externalServices: ["tcp://a-b.example.com:5432", "tcp://a.b.example.com:5432"] }, ["externalServices[1]"], /maps to the ServiceEntry name "external-a-b-example-com"/],
    ["gives one port two protocols", { externalServices: ["tcp://db.example.com:5432", "http://db.example.com:5432"] }, ["externalServices[1]"], /one protocol per port/],
    // One rule for settings whose prerequisite is off.
    ["redirects to HTTPS without TLS", { httpsRedirect: "true" }, ["httpsRedirect"], /only applies with tlsCredentialName set/],
    ["asks for a certificate without TLS", { certIssuer: "letsencrypt" }, ["certIssuer"], /only applies with tlsCredentialName set/],
    ["sets a master CIDR without private nodes", { masterCidr: "172.16.0.16/28" }, ["masterCidr"], /only applies with privateNodes true/],
    ["sets a master CIDR with private nodes", { masterCidr: "172.16.0.16/28", privateNodes: "true" }, "accepted"],
    ["restricts the control plane without private nodes (GKE allows it)", { masterAuthorizedNetworks: ["203.0.113.0/24"] }, "accepted"],
    ["pins cert-manager without installing it", { certManagerVersion: "v1.20.0" }, ["certManagerVersion"], /only applies with installCertManager true/],
    ["pins Istio while using an existing mesh", { installIstio: "false", istioVersion: "1.30.0" }, ["istioVersion"], /only applies with installIstio true/],
    ["selects an existing gateway while installing Istio", { ingressGatewaySelector: "istio=ingress" }, ["ingressGatewaySelector"], /only applies with installIstio false/],
    ["shapes a cluster while targeting an existing one", { kubeconfig: INLINE_KUBECONFIG, machineType: "e2-standard-8", minNodes: "2" }, ["machineType", "minNodes"], /only applies with kubeconfig unset/],
    ["keeps the defaults of cluster settings with an existing cluster", { kubeconfig: INLINE_KUBECONFIG, machineType: "e2-standard-4", masterAuthorizedNetworks: [] }, "accepted"],
    // Refusals that must name what the user wrote.
    ["mistypes gcp:region", { "gcp:region": "us_central1" }, ["gcp:region"], /got "us_central1"/],
    ["mistypes clusterLocation", { clusterLocation: "us_central1-a" }, ["clusterLocation"], /got "us_central1-a"/],
    ["sets minNodes above maxNodes", { minNodes: "5", maxNodes: "2" }, ["minNodes"], /more than maxNodes \(2\)/],
    ["overlaps the pod range with the node range", { podsCidr: "10.10.0.0/16" }, ["podsCidr"], /overlaps nodesCidr/],
    // Every problem at once.
    ["scales the active color to zero and capitalises the header", { activeColor: "green", greenReplicas: "0", headerName: "X-Version" }, ["greenReplicas", "headerName"]],
    ["forgets the project and inverts the node range", { "gcp:project": undefined, minNodes: "5", maxNodes: "2" }, ["gcp:project", "minNodes"]],
    ["misspells a key and sets a bad color", { activeColour: "green", activeColor: "purple" }, ["activeColor", "activeColour"]],
];

/** Argument paths and component words that a stack user never typed. */
const INTERNAL_NAMES = /(?<![.\w-])(nodePool|networkRanges|colors|resilience|tls|cluster|workload|mesh|certManager|existingGateway\w*)\.[a-z]|\bset mesh\b|\bexistingGateway/;

describe("bad input: one table, the program's own reader", () => {
    for (const [what, values, expected, pattern] of TABLE) {
        it(`${expected === "accepted" ? "accepts" : "refuses"} a user who ${what}`, () => {
            const problems = problemsOf(values);
            if (expected === "accepted") {
                assert.equal(problems, undefined, problems?.map((p) => `${p.setting}: ${p.message}`).join("\n"));
                return;
            }
            assert.ok(problems, `expected ${JSON.stringify(values)} to be refused`);
            const message = problems.map((p) => `${p.setting}: ${p.message}`).join("\n");
            assert.deepEqual(problems.map((p) => p.setting).sort(), expected, message);
            if (pattern) assert.match(message, pattern);
            assert.doesNotMatch(message, INTERNAL_NAMES, "messages name stack settings, not component arguments");
            // A setting that can hold credentials is never quoted.
            assert.ok(!message.includes("s3cr3t") && !message.includes("/no/such/kubeconfig"), message);
        });
    }

    it("declares exactly the settings it knows, with the defaults its prerequisite rule compares against", () => {
        assert.deepEqual([...STACK_SETTINGS].sort(), Object.keys(declared).sort());
        for (const [key, fallback] of Object.entries(DEPENDENT_SETTING_DEFAULTS)) {
            const value = declared[key].default;
            assert.equal(typeof value === "string" ? value : JSON.stringify(value), fallback, key);
        }
        // The reader reads nothing but declared settings and the provider settings it names.
        const read = new Set<string>();
        for (const values of [{}, { kubeconfig: EXISTING_KUBECONFIG, installIstio: "false" }]) {
            readStackConfig((key) => { read.add(key); return allConfig(values)[key.includes(":") ? key : `${PROJECT}:${key}`]; }, "dev", { readFile: fileExists });
        }
        const known = new Set<string>([...STACK_SETTINGS, ...PROVIDER_SETTINGS_READ]);
        assert.deepEqual([...read].filter((k) => !known.has(k)), []);
    });
});

describe("bad input: stack files", () => {
    let dir: string;
    beforeEach(() => {
        dir = fs.mkdtempSync(path.join(os.tmpdir(), "bluegreen-stack-"));
        fs.copyFileSync(path.join(root, "Pulumi.yaml"), path.join(dir, "Pulumi.yaml"));
    });
    afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));
    const load = (content: string, overrides: Record<string, string> = {}) => {
        fs.writeFileSync(path.join(dir, "Pulumi.s.yaml"), content);
        return loadStackSettings("s", overrides, dir);
    };

    it("names a config: block that is not indented, instead of reporting gcp:project as unset", () => {
        assert.throws(() => load("config:\ngcp:project: my-project-id\ngcp:region: us-central1\n"),
            (e: Error) => e instanceof StackFileError && /top-level keys "gcp:project", "gcp:region", which a stack file does not have.*indented/.test(e.message));
    });

    it("names a config: block written as a list or a scalar", () => {
        assert.throws(() => load("config:\n  - gcp:project: x\n"), /"config:" is a list/);
        assert.throws(() => load("config: activeColor=green\n"), /"config:" is the string "activeColor=green"/);
        assert.throws(() => load("- a\n- b\n"), /is not a YAML mapping/);
    });

    it("renders encrypted values as stand-ins, and an override replaces them", () => {
        const file = `secretsprovider: passphrase\nencryptionsalt: v1:abc\nconfig:\n  gcp:project: my-project-id\n  gcp:region: us-central1\n` +
            `  ${PROJECT}:kubeconfig:\n    secure: v1:AAAA\n  gcp:credentials:\n    secure: v1:BBBB\n`;
        const { config, encrypted } = load(file);
        assert.deepEqual(encrypted.sort(), ["gcp:credentials", `${PROJECT}:kubeconfig`]);
        assert.equal(config["gcp:credentials"], "[secret]");
        assert.doesNotMatch(JSON.stringify(config), /AAAA|BBBB/);
        // The stand-in kubeconfig is one the program accepts: the stack renders as one targeting an existing cluster.
        assert.equal(readStackConfigFromAll(config, PROJECT, "s", fileExists).environment.cluster, undefined);
        assert.equal(load(file, { kubeconfig: EXISTING_KUBECONFIG }).config[`${PROJECT}:kubeconfig`], EXISTING_KUBECONFIG);
    });
});

describe("bad input: the program itself (index.ts under the mock engine)", () => {
    let program: () => unknown;
    before(async () => {
        await useMocks();
        program = await loadProgram();
    });

    it("refuses a misspelt key with a suggestion, as a real pulumi up would, declaring nothing", async () => {
        const ev = await evaluate(program, allConfig({ activeColour: "green" }));
        assert.ok(ev.error instanceof ConfigError, String(ev.error));
        assert.match(ev.error.message, /activeColour: is not a setting of this project; did you mean `activeColor`\?/);
        assert.deepEqual(ev.resources.filter((r) => r.type !== "pulumi:pulumi:Stack"), []);
    });

    it("passes an inline kubeconfig on as a secret only", async () => {
        const ev = await evaluate(program, allConfig({ kubeconfig: INLINE_KUBECONFIG }));
        assert.equal(ev.error, undefined, ev.error?.message);
        const provider = ev.resources.find((r) => r.type === "pulumi:providers:kubernetes");
        assert.deepEqual(provider?.secretPaths, ["kubeconfig"]);
        const { outputs } = ev;
        assert.ok(outputs);
        const leaked = ev.resources.filter((r) => JSON.stringify(r.inputs).includes("s3cr3t") && !r.secretPaths.length);
        assert.deepEqual(leaked.map((r) => r.name), []);
    });
});
