import * as assert from "node:assert/strict";
import { kubeReader, kubeTarget, listRevisionInventory, parseKubeconfig } from "../components/kube-client";
import {
    GUARD_POLL_SECONDS, GUARD_WAIT_SECONDS, RevisionInventory, guardRevision, inPlaceUpgradeProblem, revisionGuardMessage, revisionOfIstiodRelease,
    revisionReferences,
} from "../components/revision-guard";
import { EMPTY_CLUSTER, KubeApiStandIn, startKubeApiStandIn } from "./kube-api-stand-in";

const empty = (): RevisionInventory => ({ namespaces: [], pods: [], workloads: [], tagWebhooks: [] });
const ns = (name: string, labels: Record<string, string>, deletionTimestamp?: string) => ({ name, labels, deletionTimestamp });

describe("revision guard: what still refers to a revision", () => {
    // [what, inventory, revision, the references as "<kind> <name>"]
    const rows: [string, Partial<RevisionInventory>, string, string[]][] = [
        ["a namespace labelled for the revision", { namespaces: [ns("shop", { "istio.io/rev": "1-30-8" }), ns("other", { "istio.io/rev": "1-31-4" })] }, "1-30-8", ["Namespace shop"]],
        ["istio-injection=enabled, for the revision-less istiod", { namespaces: [ns("shop", { "istio-injection": "enabled" })] }, "default", ["Namespace shop"]],
        ["istio-injection=enabled is not a named revision's", { namespaces: [ns("shop", { "istio-injection": "enabled", "istio.io/rev": "1-30-8" })] }, "1-30-8", []],
        ["istio-injection=enabled while a default tag points elsewhere", {
            namespaces: [ns("shop", { "istio-injection": "enabled" })],
            tagWebhooks: [{ name: "istio-revision-tag-default", labels: { "istio.io/tag": "default", "istio.io/rev": "1-31-4" } }],
        }, "default", []],
        ["a pod its injector annotated, and one of another revision", {
            pods: [{ name: "web-1", namespace: "shop", annotations: { "istio.io/rev": "1-30-8" } }, { name: "web-2", namespace: "shop", annotations: { "istio.io/rev": "1-31-4" } }],
        }, "1-30-8", ["Pod shop/web-1"]],
        ["a Deployment whose pod template asks for it", {
            workloads: [{ kind: "Deployment", metadata: { name: "nginx-green", namespace: "shop" }, templateLabels: { "istio.io/rev": "1-30-8" } }],
        }, "1-30-8", ["Deployment shop/nginx-green"]],
        ["istiod's own Deployment (its release, never injected) and another release's pods opting out", {
            workloads: [
                { kind: "Deployment", metadata: { name: "istiod-1-30-8", namespace: "istio-system", annotations: { "meta.helm.sh/release-name": "istiod-1-30-8" } },
                    templateLabels: { "istio.io/rev": "1-30-8", "sidecar.istio.io/inject": "false" } },
                { kind: "DaemonSet", metadata: { name: "agent", namespace: "ops" }, templateLabels: { "istio.io/rev": "1-30-8", "sidecar.istio.io/inject": "false" } },
            ],
        }, "1-30-8", []],
        ["a revision tag pointing at it, not its own injector", {
            tagWebhooks: [{ name: "istio-revision-tag-prod", labels: { "istio.io/tag": "prod", "istio.io/rev": "1-30-8" } }],
        }, "1-30-8", ["MutatingWebhookConfiguration istio-revision-tag-prod"]],
        ["the default validator still calling it", { defaultValidatorService: "istiod-1-30-8" }, "1-30-8", ["ValidatingWebhookConfiguration istiod-default-validator"]],
        ["the default validator calling the revision-less istiod", { defaultValidatorService: "istiod" }, "default", ["ValidatingWebhookConfiguration istiod-default-validator"]],
        ["the default validator moved on", { defaultValidatorService: "istiod-1-31-4" }, "1-30-8", []],
        ["nothing at all", {}, "1-30-8", []],
    ];
    for (const [what, inventory, revision, expected] of rows) {
        it(`${expected.length ? "finds" : "finds nothing in"} ${what}`, () => {
            const refs = revisionReferences(revision, { ...empty(), ...inventory }, `istiod-${revision}`);
            assert.deepEqual(refs.map((r) => `${r.kind} ${r.name}`), expected);
        });
    }

    it("names every reference, marks terminating ones, counts beyond twenty, and says how to move on", () => {
        const pods = Array.from({ length: 22 }, (_, i) => ({ name: `web-${i}`, namespace: "shop", annotations: { "istio.io/rev": "1-30-8" }, deletionTimestamp: i === 0 ? "now" : undefined }));
        const refs = revisionReferences("1-30-8", { ...empty(), pods }, "istiod-1-30-8");
        const message = revisionGuardMessage("istiod-1-30-8", "1-30-8", refs);
        assert.match(message, /^Refusing to delete the istiod Helm release istiod-1-30-8: revision 1-30-8 still serves 22 object\(s\)/);
        assert.match(message, /- Pod shop\/web-0: annotation istio\.io\/rev=1-30-8 \(a sidecar injected by it\) \(terminating\)\n/);
        assert.match(message, /- Pod shop\/web-19: /);
        assert.doesNotMatch(message, /web-20/);
        assert.match(message, /- and 2 more\n/);
        assert.match(message, /unlist this revision from istioControlPlanes/);
    });

    it("reads the revision an istiod release installs from its inputs, and ignores other charts", () => {
        assert.equal(revisionOfIstiodRelease({ chart: "istiod", values: { revision: "1-30-8" } }), "1-30-8");
        assert.equal(revisionOfIstiodRelease({ chart: "/charts/istiod", values: {} }), "default");
        assert.equal(revisionOfIstiodRelease({ chart: "istiod", values: { revision: "" } }), "default");
        assert.equal(revisionOfIstiodRelease({ chart: "gateway", values: { revision: "1-30-8" } }), undefined);
        assert.equal(revisionOfIstiodRelease(undefined), undefined);
    });

    describe("waits for terminating objects, refuses the rest", () => {
        const terminatingPod = { name: "web-0", namespace: "shop", annotations: { "istio.io/rev": "1-30-8" }, deletionTimestamp: "now" };
        const run = async (listings: RevisionInventory[]) => {
            let calls = 0;
            const slept: number[] = [];
            const result = await guardRevision({
                revision: "1-30-8", release: "istiod-1-30-8",
                list: async () => listings[Math.min(calls++, listings.length - 1)],
                sleep: async (s) => { slept.push(s); },
            }).then(() => "deleted", (e: Error) => e.message);
            return { result, calls, slept };
        };
        it("lets the delete go when nothing refers to the revision", async () => {
            assert.deepEqual(await run([empty()]), { result: "deleted", calls: 1, slept: [] });
        });
        it("waits while pods drain, then lets it go", async () => {
            const { result, calls } = await run([{ ...empty(), pods: [terminatingPod] }, { ...empty(), pods: [terminatingPod] }, empty()]);
            assert.deepEqual([result, calls], ["deleted", 3]);
        });
        it("counts what lives in a namespace being deleted as terminating", async () => {
            const leaving = { ...empty(), namespaces: [ns("shop", { "istio.io/rev": "1-30-8" }, "now")],
                workloads: [{ kind: "Deployment", metadata: { name: "nginx-blue", namespace: "shop" }, templateLabels: { "istio.io/rev": "1-30-8" } }] };
            assert.deepEqual(revisionReferences("1-30-8", leaving, "istiod-1-30-8").map((r) => r.terminating), [true, true]);
            assert.deepEqual((await run([leaving, empty()])).result, "deleted");
        });
        it("refuses at once while anything not terminating refers to it", async () => {
            const { result, calls } = await run([{ ...empty(), pods: [terminatingPod], namespaces: [ns("shop", { "istio.io/rev": "1-30-8" })] }]);
            assert.equal(calls, 1);
            assert.match(result, /Namespace shop: label istio\.io\/rev=1-30-8\n.*Pod shop\/web-0: .*\(terminating\)/s);
        });
        it(`refuses after ${GUARD_WAIT_SECONDS} s of pods that never finish terminating`, async () => {
            const { result, slept } = await run([{ ...empty(), pods: [terminatingPod] }]);
            assert.match(result, /^Refusing to delete/);
            assert.equal(slept.reduce((a, b) => a + b, 0), GUARD_WAIT_SECONDS);
            assert.ok(slept.every((s) => s === GUARD_POLL_SECONDS));
        });
    });
});

describe("in-place version changes of one istiod", () => {
    const rows: [string, string, string, RegExp | undefined][] = [
        ["a patch upgrade", "1.30.2", "1.30.8", undefined],
        ["one minor up", "1.30.8", "1.31.4", undefined],
        ["the same version", "1.31.4", "1.31.4", undefined],
        ["two minors up", "1.29.8", "1.31.4", /from 1\.29\.8 to 1\.31\.4 in place: Istio upgrades in place one minor at a time.*go to 1\.30 first/],
        ["a patch down", "1.31.4", "1.31.2", /must never be older than a data plane it serves.*set the version back to 1\.31\.4/],
        ["a minor down", "1.31.4", "1.30.8", /its pods run 1\.31\.4 proxies/],
    ];
    for (const [what, before, after, refusal] of rows) {
        it(`${refusal ? "refuses" : "allows"} ${what} (${before} -> ${after})`, () => {
            const problem = inPlaceUpgradeProblem("1-30", before, after);
            if (refusal) assert.match(problem ?? "", refusal);
            else assert.equal(problem, undefined);
        });
    }
});

describe("kube-client: reads the cluster with the stack's kubeconfig", () => {
    let api: KubeApiStandIn;
    before(async () => {
        api = await startKubeApiStandIn({
            ...EMPTY_CLUSTER,
            "/api/v1/namespaces": [{ metadata: { name: "shop", labels: { "istio.io/rev": "1-30-8" } } }],
            "/api/v1/pods": [{ metadata: { name: "web-1", namespace: "shop", annotations: { "istio.io/rev": "1-30-8" } } },
                { metadata: { name: "web-2", namespace: "shop", annotations: { "istio.io/rev": "1-30-8" }, deletionTimestamp: "2026-12-01T00:00:00Z" } }],
            "/apis/apps/v1/deployments": [{ metadata: { name: "nginx-blue", namespace: "shop" }, spec: { template: { metadata: { labels: { "istio.io/rev": "1-30-8" } } } } }],
            "/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations": [{ metadata: { name: "istio-revision-tag-prod", labels: { "istio.io/tag": "prod", "istio.io/rev": "1-30-8" } } }],
        }, {
            "/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations/istiod-default-validator": { webhooks: [{ clientConfig: { service: { name: "istiod-1-30-8" } } }] },
        });
    });
    after(() => api.close());

    it("lists every kind the guard reads, page by page, with the kubeconfig's token and selectors", async () => {
        const inventory = await listRevisionInventory(kubeReader(api.kubeconfig));
        assert.deepEqual(inventory.pods.map((p) => [p.name, p.deletionTimestamp !== undefined]), [["web-1", false], ["web-2", true]]);
        assert.deepEqual(inventory.workloads.map((w) => `${w.kind} ${w.metadata.name} ${w.templateLabels["istio.io/rev"]}`), ["Deployment nginx-blue 1-30-8"]);
        assert.equal(inventory.defaultValidatorService, "istiod-1-30-8");
        const refs = revisionReferences("1-30-8", inventory, "istiod-1-30-8").map((r) => `${r.kind} ${r.name}`);
        assert.deepEqual(refs, ["Namespace shop", "Pod shop/web-1", "Pod shop/web-2", "Deployment shop/nginx-blue",
            "MutatingWebhookConfiguration istio-revision-tag-prod", "ValidatingWebhookConfiguration istiod-default-validator"]);
        assert.ok(api.requests.every((r) => r.auth === "Bearer abc123"), "every request carries the token");
        assert.ok(api.requests.some((r) => r.url.includes("labelSelector=security.istio.io%2FtlsMode%3Distio")), "pods are listed by the injector's label");
        assert.ok(api.requests.some((r) => r.url.startsWith("/api/v1/pods") && r.url.includes("continue=1")), "follows continue tokens");
    });

    it("resolves the current context: inline certificate data, token files, exec plugins", () => {
        const config = parseKubeconfig(JSON.stringify({
            "current-context": "b",
            contexts: [{ name: "a", context: { cluster: "x", user: "u" } }, { name: "b", context: { cluster: "y", user: "v" } }],
            clusters: [{ name: "x", cluster: { server: "https://x" } }, { name: "y", cluster: { server: "https://y:6443/", "certificate-authority-data": Buffer.from("CA").toString("base64") } }],
            users: [{ name: "u", user: { token: "t" } }, { name: "v", user: { exec: { command: "gke-gcloud-auth-plugin", args: ["--x"], provideClusterInfo: true } } }],
        }));
        const target = kubeTarget(config, "/");
        assert.equal(target.server, "https://y:6443");
        assert.equal(target.ca?.toString(), "CA");
        assert.deepEqual(target.exec, { command: "gke-gcloud-auth-plugin", args: ["--x"], env: {}, provideClusterInfo: true });
        assert.throws(() => kubeTarget({ ...config, "current-context": "c" }, "/"), /no context named "c"/);
    });
});
