// Generated configurations, good and bad mixed: every one is either refused with a message that
// names a declared setting (or the unknown key the user typed), or accepted, and then the real
// program evaluates and every object it declares passes the Kubernetes and Istio schemas. No other
// exception may leak. Seeded and bounded, so a run is repeatable and takes a few seconds.
import * as assert from "node:assert/strict";
import fc from "fast-check";
import * as os from "node:os";
import { findDanglingReferences } from "../components/references";
import { DEFAULT_ISTIO_VERSION } from "../components/istio-mesh";
import { PROVIDER_SETTINGS_READ, STACK_SETTINGS, readStackConfigFromAll } from "../components/stack-config";
import { ConfigError } from "../components/validation";
import { applyOrder, toKubernetesObject } from "../offline/manifests";
import { loadProgram } from "../offline/program";
import { SchemaValidator } from "../offline/schema";
import { PROJECT, evaluate, useMocks } from "./harness";

const INLINE_KUBECONFIG = "apiVersion: v1\nkind: Config\nusers:\n- name: ci\n  user:\n    token: generated-token\n";
const list = (...items: string[]) => JSON.stringify(items);

/** Values a user might give each setting: the usual, the edge and the wrong. Random strings are mixed in too. */
const VALUES: Record<string, string[]> = {
    activeColor: ["blue", "green", "purple", "Green", ""],
    blueReplicas: ["0", "1", "3", "-1", "two"],
    greenReplicas: ["0", "2", "1001"],
    idleReplicas: ["", "0", "1"],
    namespace: ["sample-ns", "team-a", "kube-system", "istio-ingress", "Bad_NS", "a".repeat(64)],
    appName: ["nginx", "shop", "1app"],
    hosts: [list("sample.hoge.com"), list("a.example.com", "*.api.example.com"), list("*.example.com", "a.example.com"), "[]", list("UPPER.example.com")],
    blueImage: ["nginx:1.27.5", "nginx", "Nginx:1.27", `registry.example.com:5000/team/nginx@sha256:${"a".repeat(64)}`, "nginx:latest"],
    greenImage: ["nginx:1.28.0", "nginx::1", "ghcr.io/team/app:v2.1"],
    headerName: ["x-version", "X-Version", "x-canary"],
    loadBalancer: ["ROUND_ROBIN", "RANDOM", "round_robin"],
    trafficWeights: ["", "blue=90,green=10", "blue=50,blue=50", "green=100,blue=0", "blue=60,green=60"],
    targetedRoutes: [list("green:header:x-internal=true"), list("blue:header-regex:x-user=^qa-[0-9]+$"), list("green:header-regex:x-user=(?=a)"),
        list("green:cookie:beta=opt-in"), list("green:source:app=checkout,app=cart"), list("purple:header:a=b")],
    mirrorToIdle: ["0", "20", "150"],
    meshRouting: ["true", "false", "yes"],
    createNamespace: ["true", "false", "no"],
    externalServices: ["[]", list("tcp://db.example.com:5432"), list("tcp://a-b.example.com:1", "tcp://a.b.example.com:2"), list("ftp://x.example.com:21")],
    tlsCredentialName: ["", "sample-tls", "Bad_Name"],
    httpsRedirect: ["false", "true"],
    certIssuer: ["", "letsencrypt"],
    installCertManager: ["false", "true"],
    certManagerVersion: ["v1.21.2", "1.21"],
    routeTimeout: ["15s", "1ms", "0.5ms", "1m30s", "soon"],
    retryAttempts: ["0", "3", "11"],
    retryPerTryTimeout: ["5s", "0s", "250ms"],
    installIstio: ["true", "false"],
    ingressGatewayNamespace: ["", "edge"],
    ingressGatewaySelector: ["", "istio=ingressgateway", "istio"],
    mtlsMode: ["STRICT", "PERMISSIVE", "OFF"],
    ingressReplicas: ["2", "1", "5"],
    kubeconfig: ["", INLINE_KUBECONFIG],
    clusterName: ["bluegreen", "prod-cluster", "Bad_Name"],
    clusterLocation: ["", "europe-west1-b", "nowhere"],
    minNodes: ["1", "0", "5"],
    maxNodes: ["3", "1", "0"],
    podsCidr: ["10.20.0.0/14", "10.10.0.0/16", "banana"],
    privateNodes: ["false", "true"],
    masterCidr: ["172.16.0.0/28", "172.16.0.16/28", "172.16.0.0/24"],
    masterAuthorizedNetworks: ["[]", list("203.0.113.0/24"), list("1.2.3.4")],
    deletionProtection: ["auto", "true", "yes"],
    "gcp:region": ["us-central1", "us_central1"],
    // Keys nobody declared, some of them near-misses of ours.
    activeColour: ["green"],
    blueReplica: ["3"],
    "gcp:activeColor": ["green"],
    "gcp:zone": ["us-central1-a"],
    "pulumi:tags": ["{}"],
};
const KEYS = Object.keys(VALUES);
const DECLARED = new Set<string>([...STACK_SETTINGS, ...PROVIDER_SETTINGS_READ]);

/** Settings that end up in object names and specs, where a slip becomes an invalid object: drawn three times as often. */
const SHAPING = ["namespace", "appName", "hosts", "blueImage", "headerName", "targetedRoutes", "externalServices", "tlsCredentialName", "routeTimeout"];

/** A configuration: up to five settings, each a listed value or, now and then, any short string. */
const configurations = fc.uniqueArray(
    fc.oneof({ arbitrary: fc.constantFrom(...SHAPING), weight: 3 }, { arbitrary: fc.constantFrom(...KEYS), weight: 2 }).chain((key) => fc.tuple(fc.constant(key), fc.oneof(
        { arbitrary: fc.constantFrom(...VALUES[key]), weight: 5 },
        { arbitrary: fc.string({ maxLength: 12 }), weight: 1 },
    ))),
    { selector: ([key]) => key, maxLength: 5 },
).map((pairs) => {
    const all: Record<string, string> = { "gcp:project": "my-project-id", "gcp:region": "us-central1" };
    for (const [key, value] of pairs) all[key.includes(":") ? key : `${PROJECT}:${key}`] = value;
    return all;
});

/**
 * Issue 22's rules: for each setting, valid neighbours and values Istio, GKE or the API server would
 * refuse later. A bad value must be refused under its own setting whatever else is set, except
 * cluster-only rules when kubeconfig points at an existing cluster (then no cluster is checked).
 */
const ISSUE_22: Record<string, { good: string[]; bad: string[]; clusterOnly?: boolean }> = {
    routeTimeout: { good: ["15s", "2000us", "1.5s", "2562047h"], bad: ["1.5ms", "2562048h", "15"] },
    retryPerTryTimeout: { good: ["5s", "250ms"], bad: ["1500us", "0s"] },
    retryAttempts: { good: ["0", "1", "3"], bad: [] },
    retryOn: { good: ["connect-failure,refused-stream,reset-before-request", "5xx,503,425"], bad: ["599", "5xx, 503"] },
    targetedRoutes: { good: [list("green:header-regex:x-user=^qa$"), list(`green:cookie:beta=${"v".repeat(1001)}`)],
        bad: [list("green:header-regex:x-user="), list(`green:cookie:beta=${"v".repeat(1005)}`)] },
    previewJwtIssuer: { good: ["", "https://issuer.example.com"], bad: [] },
    previewJwksUri: { good: ["", "https://issuer.example.com:8443/keys?kid=a"], bad: ["https:///keys", "https://issuer.example.com/%zz", `https://issuer.example.com/${"k".repeat(2030)}`] },
    previewSourceCidrs: { good: ["[]", list("203.0.113.0/24"), list("0.0.0.0/0"), list("0.0.0.0/1", "128.0.0.0/1")], bad: [] },
    istioVersion: { good: ["1.31.4", "1.26.8", "1.31.5", "1.40.0"], bad: ["1.26.99", "1.28.11"] },
    istioPlatform: { good: ["", "gke"], bad: ["minikube"], clusterOnly: true },
    istioChartRepository: { good: ["https://istio-release.storage.googleapis.com/charts", "oci://registry.example.com:5000/istio", "/srv/charts"],
        bad: ["https://user:pw@charts.example.com/istio", "https://charts.example.com/istio?token=x", "charts/istio", "https://"] },
    "gcp:project": { good: ["my-project-id"], bad: ["my-google-app", "undefined-1234"], clusterOnly: true },
    clusterLocation: { good: ["", "europe-west4-b", "us-central9"], bad: [] },
    machineType: { good: ["e2-standard-4", "g1-small", "q9-standard-4"], bad: ["f1-micro"] },
    imageRepositories: { good: ["[]", list("us-central1/apps", "europe/base")], bad: [list("us-central1-a/apps"), list("us-central1/apps", "my-project-id/us-central1/apps")] },
    servicesCidr: { good: ["10.24.0.0/20"], bad: ["224.0.0.0/20", "127.0.0.0/20"] },
    privateNodes: { good: ["false", "true"], bad: [] },
    masterAuthorizedNetworks: { good: ["[]", list("203.0.113.0/24")], bad: [list(...Array.from({ length: 101 }, (_, i) => `203.0.113.${i}/32`))] },
    namespace: { good: ["sample-ns", "edge"], bad: ["default"] },
    createNamespace: { good: ["true", "false"], bad: [] },
    installIstio: { good: ["true", "false"], bad: [] },
    ingressGatewayNamespace: { good: ["", "edge"], bad: [] },
    kubeconfig: { good: ["", INLINE_KUBECONFIG], bad: [os.tmpdir(), "apiVersion: v1\nusers: [ {name: ci\n"] },
    tlsCredentialName: { good: ["", "sample-tls"], bad: [] },
    certIssuer: { good: ["", "letsencrypt.prod"], bad: ["letsencrypt_prod"] },
};

/** Configurations of up to six issue-22 settings, and which of them hold a value that must be refused. */
const issue22Configurations = fc.uniqueArray(
    fc.constantFrom(...Object.keys(ISSUE_22)).chain((key) => fc.tuple(fc.constant(key),
        fc.constantFrom(...ISSUE_22[key].good.map((v) => [v, false] as const), ...ISSUE_22[key].bad.map((v) => [v, true] as const)))),
    { selector: ([key]) => key, maxLength: 6 },
).map((pairs) => {
    const all: Record<string, string> = { "gcp:project": "my-project-id", "gcp:region": "us-central1" };
    for (const [key, [value]] of pairs) all[key.includes(":") ? key : `${PROJECT}:${key}`] = value;
    const existingCluster = (all[`${PROJECT}:kubeconfig`] ?? "") !== "";
    const mustRefuse = pairs.filter(([key, [, bad]]) => bad && !(ISSUE_22[key].clusterOnly && existingCluster)).map(([key]) => key);
    return { all, mustRefuse };
});

/** The stack setting a problem is about (`hosts[1]` and `externalServices[0] port` belong to `hosts` and `externalServices`). */
const settingOf = (problem: string) => problem.replace(/\[.*$/, "").replace(/ .*$/, "");

describe("bad input: generated configurations (property-based)", function () {
    this.timeout(120_000);
    let validator: SchemaValidator;
    let program: () => unknown;
    before(async () => {
        validator = await SchemaValidator.forIstio(DEFAULT_ISTIO_VERSION);
        await useMocks("dev");
        program = await loadProgram();
    });

    /** The property for one configuration: refused with declared settings named (returns them), or rendered schema-valid. */
    async function check(all: Record<string, string>, outcomes: { accepted: number; refused: number }): Promise<string[] | undefined> {
        const given = new Set(Object.keys(all).map((k) => (k.startsWith(`${PROJECT}:`) ? k.slice(PROJECT.length + 1) : k)));
        let refusal: ConfigError | undefined;
        try {
            // Warnings (values a dated list does not know) are named like problems: by a declared setting.
            for (const w of readStackConfigFromAll(all, PROJECT, "dev").warnings) assert.ok(DECLARED.has(settingOf(w.setting)), `warning under "${w.setting}"`);
        } catch (e) {
            if (!(e instanceof ConfigError)) throw e;
            refusal = e;
        }
        // The program under the mock engine agrees with the reader, and registers nothing of a refused stack.
        const ev = await evaluate(program, all);
        if (refusal) {
            outcomes.refused++;
            assert.ok(ev.error instanceof ConfigError, `the program accepted what the reader refused: ${refusal.message}`);
            assert.equal(ev.error.message, refusal.message);
            for (const p of refusal.problems) {
                const setting = settingOf(p.setting);
                assert.ok(DECLARED.has(setting) || given.has(setting), `"${p.setting}" is neither declared nor given: ${refusal.message}`);
                assert.match(p.message, /allowed/, `${p.setting} says what is allowed`);
            }
            // Credentials given in a URL or kubeconfig are never repeated.
            assert.doesNotMatch(refusal.message, /user:pw@|token=x|generated-token/);
            return refusal.problems.map((p) => settingOf(p.setting));
        }
        outcomes.accepted++;
        assert.equal(ev.error, undefined, ev.error?.stack);
        // Credentials given in a URL or kubeconfig reach no resource's inputs in clear.
        const leaked = ev.resources.filter((r) => /user:pw@|token=x|generated-token/.test(JSON.stringify(r.inputs)) && r.secretPaths.length === 0);
        assert.deepEqual(leaked.map((r) => r.name), [], JSON.stringify(all));
        const objects = applyOrder(ev.resources).map(toKubernetesObject);
        assert.ok(objects.length >= 8, "the workload's objects are declared");
        for (const o of objects) assert.deepEqual(await validator.validate(o), [], `${o.kind} ${o.metadata.name} of ${JSON.stringify(all)}`);
        assert.deepEqual(findDanglingReferences(objects), []);
        return undefined;
    }

    it("refuses with a declared setting named, or renders only schema-valid objects", async () => {
        const outcomes = { accepted: 0, refused: 0 };
        await fc.assert(fc.asyncProperty(configurations, async (all) => {
            await check(all, outcomes);
        // Each accepted run evaluates the whole program (about 0.4 s under ts-node): 40 runs keep this near 5 s.
        }), { seed: 20261126, numRuns: 40, endOnFailure: true });
        // Both sides of the property were exercised.
        assert.ok(outcomes.accepted >= 5 && outcomes.refused >= 5, JSON.stringify(outcomes));
    });

    it("issue 22's rules: a value Istio, GKE or the API server would refuse is refused under its own setting; valid neighbours pass the same checks", async () => {
        const outcomes = { accepted: 0, refused: 0 };
        const badDrawn = new Set<string>();
        await fc.assert(fc.asyncProperty(issue22Configurations, async ({ all, mustRefuse }) => {
            const named = await check(all, outcomes);
            for (const key of mustRefuse) {
                badDrawn.add(key);
                assert.ok(named?.includes(key), `${key}=${JSON.stringify(all[key.includes(":") ? key : `${PROJECT}:${key}`])} must be refused under ${key}; got ${JSON.stringify(named ?? "accepted")}`);
            }
        }), { seed: 20261201, numRuns: 40, endOnFailure: true });
        assert.ok(outcomes.accepted >= 5 && outcomes.refused >= 5, JSON.stringify(outcomes));
        assert.ok(badDrawn.size >= 8, `bad values of several rules were drawn: ${[...badDrawn].join(", ")}`);
    });
});
