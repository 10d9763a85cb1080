// A revision-based Istio upgrade on the real Pulumi engine (the flow of docs/istio-upgrades.md),
// with `installIstio: true` and Istio's own charts from the local copy (third_party/), against the
// throwaway kube-apiserver + kwok cluster of e2e/run.sh:
//   0. install one revision-less istiod (istioVersion 1.30.2), as existing stacks have it;
//   T. the one-step trap: istioRevision set on that live stack is refused at its first step (the
//      default validator would move to an istiod that does not exist yet), before anything
//      changes; reverting is an ordinary up that changes nothing;
//   M. the same stack in the istioControlPlanes form previews no change;
//   1-8. list 1-31-4 beside default, pin both colors, move the idle color, switch activeColor,
//      move the other color, move the validator, move the gateway; then unlisting default is
//      refused while a stray pod injected by it runs (nothing deleted), and done once it is gone.
// Proven by resourceVersions from watches (etcd's one write counter orders writes of all kinds):
// a new istiod is Available before the first pod of its revision; the validator moves before the
// old release is deleted; the last pod of the old revision is gone before its release is deleted.
//
// kwok runs no containers, so no istiod runs: its injector and validator webhooks point at the
// stub of e2e/cluster-fakes.ts (through istioHelmValues: istiodRemote.injectionURL and
// base.validationURL with the stub's CA bundle). The stub records which revision's URL was asked
// and annotates injected pods the way the real injector does (istio.io/rev), which is what the
// guard reads. What this cannot prove: that proxies get xDS config from the right istiod, which
// proxy version runs, certificate issuance and mTLS between revisions (no Envoy, no istiod runs),
// and a real chart version change (the local charts are one snapshot, ≈1.31, whatever version a
// release names).
// Prints each step's wall time and ends with "N passed, N failed".
import * as fs from "node:fs";
import { AdmissionRecord, ClusterWatch, ClusterWatchEvent, E2eRun, changedSteps, linkLocalIstioCharts, startClusterFakes, watchEvents } from "./harness";

const STACK = "istio-upgrade";
const NS = "sample-ns";
const SYSTEM_NS = "istio-system";
const GATEWAY_NS = "istio-ingress";
/** The revision-less istiod a stack installed with one istiod has, and the new one beside it. */
const OLD = { revision: "default", version: "1.30.2", release: "istiod", deployment: "istiod" };
const NEW = { revision: "1-31-4", version: "1.31.4", release: "istiod-1-31-4", deployment: "istiod-1-31-4" };
const REV = "istio.io/rev";

const run = new E2eRun("bluegreen-e2e-istio-upgrade-", { env: { PULUMI_NODEJS_TRANSPILE_ONLY: "true" } });
const { env } = run;
const check = run.check.bind(run);
const pulumi = run.pulumi.bind(run);
const timed = run.timed.bind(run);
const kubectl = run.kubectl.bind(run);
const getJson = run.kubectlJson.bind(run);

/** `pulumi config set-all --path` for several keys in one call. */
function setConfig(values: Record<string, string>): void {
    pulumi(["config", "set-all", "--path", ...Object.entries(values).flatMap(([k, v]) => ["--plaintext", `${k}=${v}`])]);
}
function rmConfig(...keys: string[]): void {
    for (const key of keys) pulumi(["config", "rm", key], true);
}
/** A list setting, replaced whole. */
function setList(key: string, entries: string[]): void {
    rmConfig(key);
    setConfig(Object.fromEntries(entries.map((e, i) => [`${key}[${i}]`, e])));
}

const annotatedRev = (o: any): string | undefined => o?.metadata?.annotations?.[REV];
const podsOf = (selector: string, ns = NS) => (getJson("-n", ns, "get", "pods", "-l", selector)?.items ?? []) as any[];
const revisionsOf = (pods: any[]) => [...new Set(pods.map(annotatedRev))].sort().join(",");
const available = (d: any) => d?.status?.conditions?.some((c: any) => c.type === "Available" && c.status === "True") === true;
/** What the checks below look at, for a failure's detail. */
const meshState = () => JSON.stringify({
    deployments: (getJson("-n", SYSTEM_NS, "get", "deployments")?.items ?? []).map((d: any) => `${d.metadata.name} available=${available(d)}`),
    helm: helmReleaseSecrets(), pods: (getJson("get", "pods", "-A")?.items ?? []).map((p: any) => `${p.metadata.namespace}/${p.metadata.name} rev=${annotatedRev(p)}`),
});
/** The Helm releases recorded in istio-system (names only: the records hold whole charts, too big to list as JSON). */
const helmReleaseSecrets = () => kubectl(["-n", SYSTEM_NS, "get", "secrets", "-l", "owner=helm", "-o", "jsonpath={.items[*].metadata.labels.name}"]).stdout.split(/\s+/).filter(Boolean);
const outputOf = (r: { stdout: string; stderr: string }) => r.stdout + r.stderr;
/** The guard's refusal as the user sees it (its first lines), printed for docs/istio-upgrades.md. */
function showRefusal(text: string): void {
    // The last occurrence is the Diagnostics block, with the listed objects on their own lines.
    const start = text.lastIndexOf("Refusing to delete");
    if (start >= 0) console.log(`       ${text.slice(start).split("\n").slice(0, 12).join("\n       ")}`);
}

/** Every write of the kinds that show the order: pods, Deployments, the validator webhooks, Helm's release records. */
class Recorder {
    private watches: ClusterWatch[] = [];
    /** etcd's revision when the watches were open: later events are writes of the steps recorded. */
    since = 0n;
    async start(): Promise<void> {
        this.watches = await Promise.all(["pods", "deployments", "validatingwebhookconfigurations", "secrets"].map((r) => watchEvents(run, r)));
        this.since = BigInt(JSON.parse(kubectl(["get", "--raw", "/api/v1/namespaces/default/configmaps?limit=1"]).stdout).metadata.resourceVersion);
    }
    /** The writes since `start`, in etcd order. */
    async stop(): Promise<ClusterWatchEvent[]> {
        const events = (await Promise.all(this.watches.map((w) => w.stop()))).flat().filter((e) => e.resourceVersion > this.since);
        return events.sort((a, b) => (a.resourceVersion < b.resourceVersion ? -1 : a.resourceVersion > b.resourceVersion ? 1 : 0));
    }
}
const isHelmRecordOf = (release: string) => (e: ClusterWatchEvent) => e.kind === "Secret" && e.object.metadata.labels?.owner === "helm" && e.object.metadata.labels?.name === release;
const describeEvents = (events: ClusterWatchEvent[]) => events.map((e) => `${e.resourceVersion} ${e.type} ${e.kind} ${e.ref} rev=${annotatedRev(e.object) ?? ""}`).join("\n");

/** The istioHelmValues pointing each listed revision's webhooks, and the default validator, at the stub. */
function stubValues(fakes: Awaited<ReturnType<typeof startClusterFakes>>, revisions: string[]): string[] {
    return [
        `base.base.validationURL=${fakes.validationUrl("default-validator")}`,
        `base.base.validationCABundle=${fakes.caBundle}`,
        `istiod.istiodRemote.injectionCABundle=${fakes.caBundle}`,
        `istiod.base.validationCABundle=${fakes.caBundle}`,
        ...revisions.flatMap((r) => [`istiod@${r}.istiodRemote.injectionURL=${fakes.injectionUrl(r)}`, `istiod@${r}.base.validationURL=${fakes.validationUrl(r)}`]),
    ];
}

async function main(): Promise<void> {
    const kubeconfig = process.env.KUBECONFIG;
    if (!kubeconfig) throw new Error("KUBECONFIG is not set: run through `bash e2e/run.sh e2e/istio-upgrade.ts`");
    console.log(`project ${run.project}, backend ${env.PULUMI_BACKEND_URL}`);
    const fakes = await startClusterFakes(env);
    const charts = linkLocalIstioCharts();
    try {
        await upgrade(kubeconfig, fakes, charts);
    } finally {
        fakes.stop();
        fs.rmSync(charts, { recursive: true, force: true });
    }
}

async function upgrade(kubeconfig: string, fakes: Awaited<ReturnType<typeof startClusterFakes>>, charts: string): Promise<void> {
    const injections = (from: number) => fakes.admissions().slice(from).filter((a: AdmissionRecord) => a.webhook === "inject");

    // The cluster already has Istio's CRDs (cluster.sh applies them, as an older install would have):
    // let Helm adopt them, with the recipe of docs/operations.md.
    for (const crd of kubectl(["get", "crd", "-o", "name"]).stdout.split("\n").filter((n) => n.endsWith(".istio.io"))) {
        kubectl(["label", crd, "app.kubernetes.io/managed-by=Helm", "--overwrite"]);
        kubectl(["annotate", crd, `meta.helm.sh/release-name=istio-base`, `meta.helm.sh/release-namespace=${SYSTEM_NS}`, "--overwrite"]);
    }

    pulumi(["stack", "init", STACK]);
    setConfig({ kubeconfig, installIstio: "true", istioChartRepository: charts, istioVersion: OLD.version });
    setList("istioHelmValues", stubValues(fakes, [OLD.revision]));

    // 0. One revision-less istiod, as every stack installed before several control planes existed.
    const installed = timed("0. pulumi up (installIstio, one istiod 1.30.2, local charts)", () => pulumi(["up", "--yes", "--skip-preview"], true));
    check("a real installIstio pulumi up succeeds on kwok (webhooks at the stub, the gateway given a load-balancer address)", installed.code === 0,
        outputOf(installed).slice(-4000));
    if (installed.code !== 0) return;
    check("istiod is Available", available(getJson("-n", SYSTEM_NS, "get", "deployment", OLD.deployment)));
    const appPods = podsOf("app=nginx");
    check("the four nginx pods and the gateway's were injected by the revision-less istiod (annotation istio.io/rev=default, from the stub's /inject/default)",
        appPods.length === 4 && revisionsOf(appPods) === "default" && revisionsOf(podsOf("app=istio-ingress", GATEWAY_NS)) === "default" &&
        fakes.admissions().some((a) => a.webhook === "inject" && a.revision === "default" && a.namespace === NS), revisionsOf(appPods));
    check("the validating webhooks called the stub for the workload's Istio objects",
        fakes.admissions().some((a) => a.webhook === "validate" && a.kind === "VirtualService" && a.namespace === NS));
    check("the gateway Service got its load-balancer address", /192\.0\.2\.10/.test(installed.stdout), installed.stdout.slice(-1500));

    // T. The one-step trap: a new istioRevision on a live stack with one istiod.
    const podsBeforeTrap = appPods.map((p) => p.metadata.name).sort();
    const trapMarker = fakes.admissions().length;
    setList("istioHelmValues", stubValues(fakes, [NEW.revision]));
    setConfig({ istioRevision: NEW.revision });
    let recorder = new Recorder();
    await recorder.start();
    const trap = timed("T. pulumi up (one-step istioRevision change: refused)", () => pulumi(["up", "--yes", "--skip-preview"], true));
    let events = await recorder.stop();
    const trapText = outputOf(trap);
    showRefusal(trapText);
    // Its first step would point the default validator at the new istiod, which does not exist yet.
    check("the one-step istioRevision change fails at its first step, refusing to move the validator to an istiod that is not Available, naming the staged steps",
        trap.code !== 0 && new RegExp(`Refusing to point the default validating webhook \\(base defaultRevision\\) from revision default to ${NEW.revision}: ` +
            `Deployment ${SYSTEM_NS}/${NEW.deployment} is not Available`).test(trapText) && /list both in istioControlPlanes/.test(trapText), trapText.slice(-4000));
    check("...before anything changed: no Deployment or Helm record came, went or was upgraded, the old istiod is Available, no workload pod was restarted, none injected by the new revision",
        !events.some((e) => e.kind === "Deployment" && e.type !== "MODIFIED") && !events.some((e) => e.kind === "Secret" && e.object.metadata.labels?.owner === "helm") &&
        available(getJson("-n", SYSTEM_NS, "get", "deployment", OLD.deployment)) && getJson("-n", SYSTEM_NS, "get", "deployment", NEW.deployment) === undefined &&
        JSON.stringify(podsOf("app=nginx").map((p) => p.metadata.name).sort()) === JSON.stringify(podsBeforeTrap) && !injections(trapMarker).some((a) => a.revision === NEW.revision),
        `${describeEvents(events.filter((e) => e.type !== "MODIFIED"))}\n${meshState()}\ninjections: ${JSON.stringify(injections(trapMarker))}`);

    // Reverting the one value is an ordinary up.
    setList("istioHelmValues", stubValues(fakes, [OLD.revision]));
    rmConfig("istioRevision");
    const reverted = timed("T2. pulumi up (istioRevision removed again)", () => pulumi(["up", "--yes", "--skip-preview"], true));
    check("reverting istioRevision succeeds, and changes nothing: the namespace is labelled for the revision-less istiod and the gateway injected by it",
        reverted.code === 0 && /Resources:\s+\S* ?\d+ unchanged\s*\n/.test(reverted.stdout) && getJson("get", "namespace", NS)?.metadata?.labels?.["istio-injection"] === "enabled" &&
        revisionsOf(podsOf("app=istio-ingress", GATEWAY_NS)) === "default" && getJson("-n", SYSTEM_NS, "get", "deployment", NEW.deployment) === undefined,
        outputOf(reverted).slice(-3000));

    // M. The same stack in the list form: no change.
    rmConfig("istioVersion");
    setList("istioControlPlanes", [`${OLD.revision}=${OLD.version}`]);
    const migrated = timed("M. pulumi preview (istioVersion moved into istioControlPlanes)", () => pulumi(["preview", "--json"]));
    // The ingress Service is read on every run (its ID comes from the gateway release): a read, not a change.
    const migrationSteps = changedSteps(migrated.stdout).filter((step) => step.op !== "read");
    check("moving istioVersion into istioControlPlanes previews no change", migrationSteps.length === 0, JSON.stringify(migrationSteps));

    // 1. List the new revision beside the old one (recorded through step 3, the first pods of it).
    recorder = new Recorder();
    await recorder.start();
    setList("istioControlPlanes", [`${OLD.revision}=${OLD.version}`, `${NEW.revision}=${NEW.version}`]);
    setConfig({ istioValidatorRevision: OLD.revision, ingressIstioRevision: OLD.revision });
    setList("istioHelmValues", stubValues(fakes, [OLD.revision, NEW.revision]));
    timed("1. pulumi up (list 1-31-4 beside default)", () => pulumi(["up", "--yes", "--skip-preview"]));
    check(`both istiods are Available, each its own Helm release (istiod, istiod-${NEW.revision})`,
        available(getJson("-n", SYSTEM_NS, "get", "deployment", OLD.deployment)) && available(getJson("-n", SYSTEM_NS, "get", "deployment", NEW.deployment)) &&
        [OLD.release, NEW.release].every((r) => helmReleaseSecrets().includes(r)), meshState());
    check("...and no workload pod moved", revisionsOf(podsOf("app=nginx")) === "default");

    // 2. Pin both colors to the revision they run: the label moves from the namespace to the pod templates.
    setConfig({ blueIstioRevision: OLD.revision, greenIstioRevision: OLD.revision });
    timed("2. pulumi up (pin both colors to default)", () => pulumi(["up", "--yes", "--skip-preview"]));
    const nsLabels = getJson("get", "namespace", NS)?.metadata?.labels ?? {};
    check("the namespace carries no injection label and the pods stay on default",
        nsLabels["istio-injection"] === undefined && nsLabels[REV] === undefined && revisionsOf(podsOf("app=nginx")) === "default", JSON.stringify(nsLabels));

    // 3. Move the idle color.
    let marker = fakes.admissions().length;
    setConfig({ greenIstioRevision: NEW.revision });
    timed("3. pulumi up (green, the idle color, to 1-31-4)", () => pulumi(["up", "--yes", "--skip-preview"]));
    events = await recorder.stop();
    const newAvailable = events.find((e) => e.kind === "Deployment" && e.ref === `${SYSTEM_NS}/${NEW.deployment}` && available(e.object))?.resourceVersion;
    const firstNewPod = events.find((e) => e.kind === "Pod" && e.type === "ADDED" && annotatedRev(e.object) === NEW.revision);
    check(`istiod-${NEW.revision} was Available (rv ${newAvailable}) before the first pod of its revision was created (${firstNewPod?.ref}, rv ${firstNewPod?.resourceVersion})`,
        newAvailable !== undefined && firstNewPod !== undefined && newAvailable < firstNewPod.resourceVersion, describeEvents(events));
    check("green's pods run 1-31-4's sidecar, blue's still default's, through each revision's injector URL",
        revisionsOf(podsOf("app=nginx,version=green")) === NEW.revision && revisionsOf(podsOf("app=nginx,version=blue")) === OLD.revision &&
        // (A pod the old revision injected may still be on its way from the previous step's rollout: only the new revision's are counted.)
        injections(marker).some((a) => a.namespace === NS && a.revision === NEW.revision) &&
        injections(marker).filter((a) => a.namespace === NS && a.revision === NEW.revision).every((a) => a.labels.version === "green"),
        JSON.stringify(injections(marker).map((a) => [a.revision, a.labels.version])));

    // 4. Switch; 5. move the other color.
    setConfig({ activeColor: "green" });
    timed("4. pulumi up (activeColor green)", () => pulumi(["up", "--yes", "--skip-preview"]));
    marker = fakes.admissions().length;
    setConfig({ blueIstioRevision: NEW.revision });
    timed("5. pulumi up (blue to 1-31-4)", () => pulumi(["up", "--yes", "--skip-preview"]));
    check("every workload pod now runs 1-31-4's sidecar, blue's injected through 1-31-4's URL", revisionsOf(podsOf("app=nginx")) === NEW.revision &&
        injections(marker).some((a) => a.namespace === NS && a.revision === NEW.revision && a.labels.version === "blue"));

    // 6. The validator; 7. the gateway; recorded to order them against the old release's removal.
    recorder = new Recorder();
    await recorder.start();
    setConfig({ istioValidatorRevision: NEW.revision });
    timed("6. pulumi up (istioValidatorRevision 1-31-4)", () => pulumi(["up", "--yes", "--skip-preview"]));
    const validator = getJson("get", "validatingwebhookconfiguration", "istiod-default-validator");
    check("the default validator now belongs to 1-31-4 (label istio.io/rev)", validator?.metadata?.labels?.[REV] === NEW.revision, JSON.stringify(validator?.metadata?.labels));
    setConfig({ ingressIstioRevision: NEW.revision });
    timed("7. pulumi up (ingressIstioRevision 1-31-4)", () => pulumi(["up", "--yes", "--skip-preview"]));
    check("the gateway's pods run 1-31-4's sidecar", revisionsOf(podsOf("app=istio-ingress", GATEWAY_NS)) === NEW.revision);

    // 8. Unlist the old revision while a stray pod it injected runs: refused, nothing deleted.
    const stray = { apiVersion: "v1", kind: "Pod", metadata: { name: "stray-job", namespace: "default", labels: { [REV]: OLD.revision } },
        spec: { containers: [{ name: "job", image: "busybox:1.37.0" }] } };
    const created = kubectl(["apply", "-f", "-"], JSON.stringify(stray));
    check("a stray pod labelled for the old revision is injected by it (annotation istio.io/rev=default)",
        created.code === 0 && annotatedRev(getJson("-n", "default", "get", "pod", "stray-job")) === OLD.revision, created.stderr);
    setList("istioControlPlanes", [`${NEW.revision}=${NEW.version}`]);
    setList("istioHelmValues", stubValues(fakes, [NEW.revision]));
    const refused = timed("8a. pulumi up (unlist default while a stray pod of it runs: refused)", () => pulumi(["up", "--yes", "--skip-preview"], true));
    const refusedText = outputOf(refused);
    showRefusal(refusedText);
    check("unlisting the old revision fails while its stray pod runs, naming it", refused.code !== 0 &&
        /Refusing to delete the istiod Helm release istiod: revision default still serves 1 object/.test(refusedText) && refusedText.includes("Pod default/stray-job"),
        refusedText.slice(-3000));
    check("...and the old istiod stays installed (Deployment Available, Helm record kept)",
        available(getJson("-n", SYSTEM_NS, "get", "deployment", OLD.deployment)) && helmReleaseSecrets().includes(OLD.release), meshState());
    kubectl(["-n", "default", "delete", "pod", "stray-job", "--wait=true"]);
    const removed = timed("8b. pulumi up (unlist default, nothing refers to it)", () => pulumi(["up", "--yes", "--skip-preview"], true));
    events = await recorder.stop();
    check("with the stray pod gone, unlisting removes the old istiod's release", removed.code === 0 &&
        getJson("-n", SYSTEM_NS, "get", "deployment", OLD.deployment) === undefined && !helmReleaseSecrets().includes(OLD.release), outputOf(removed).slice(-3000));

    const releaseDeleted = events.filter((e) => e.type === "DELETED" && (isHelmRecordOf(OLD.release)(e) || e.ref === `${SYSTEM_NS}/${OLD.deployment}`))
        .map((e) => e.resourceVersion).sort((a, b) => (a < b ? -1 : 1))[0];
    const validatorMoved = events.find((e) => e.kind === "ValidatingWebhookConfiguration" && e.ref.endsWith("/istiod-default-validator") &&
        e.object.metadata.labels?.[REV] === NEW.revision)?.resourceVersion;
    const oldPodsGone = events.filter((e) => e.kind === "Pod" && e.type === "DELETED" && annotatedRev(e.object) === OLD.revision).map((e) => e.resourceVersion);
    const lastOldPod = oldPodsGone.sort((a, b) => (a < b ? -1 : 1)).pop();
    check(`the validator moved (rv ${validatorMoved}) before the old release was deleted (rv ${releaseDeleted})`,
        validatorMoved !== undefined && releaseDeleted !== undefined && validatorMoved < releaseDeleted, describeEvents(events));
    check(`the last pod of the old revision was gone (rv ${lastOldPod}, ${oldPodsGone.length + 1} deleted) before its release was deleted`,
        lastOldPod !== undefined && releaseDeleted !== undefined && lastOldPod < releaseDeleted &&
        (getJson("get", "pods", "-A")?.items ?? []).every((p: any) => annotatedRev(p) !== OLD.revision), describeEvents(events));

    // The istiod releases carry delete hooks (the guard): destroy must run the program to call them.
    const destroyed = timed("pulumi destroy --run-program", () => pulumi(["destroy", "--yes", "--skip-preview", "--run-program"], true));
    check("destroy removes the mesh and the workload", destroyed.code === 0 && getJson("get", "namespace", NS) === undefined &&
        helmReleaseSecrets().length === 0, outputOf(destroyed).slice(-3000));
    pulumi(["stack", "rm", STACK, "--yes"], true);
}

run.finish(main(), "Istio upgrade");
