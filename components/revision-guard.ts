// What still refers to an Istio revision, so its istiod is removed only when nothing does (the rule
// Sail operator prunes by), and what an in-place version change of one istiod may do. Pure logic
// over listed objects; IstioMesh runs it from resource hooks, kube-client.ts does the listing.
import { DEFAULT_REVISION_NAME, compareVersions, isIstioVersion, minorOf } from "./mesh-revisions";

/** The metadata the guard reads of a listed object. */
export interface ListedMeta {
    /** The object's name. */
    name: string;
    /** Its namespace (none for cluster-scoped objects). */
    namespace?: string;
    /** Its labels. */
    labels?: Record<string, string>;
    /** Its annotations. */
    annotations?: Record<string, string>;
    /** Set once the object is being deleted. */
    deletionTimestamp?: string;
}

/** A Deployment, StatefulSet or DaemonSet: its metadata and its pod template's labels. */
export interface ListedWorkload {
    /** `Deployment`, `StatefulSet` or `DaemonSet`. */
    kind: string;
    /** The workload's own metadata. */
    metadata: ListedMeta;
    /** The labels its pods get. */
    templateLabels: Record<string, string>;
}

/** Everything in a cluster that can refer to a revision. */
export interface RevisionInventory {
    /** Every namespace. */
    namespaces: ListedMeta[];
    /** Pods with a sidecar (the injector annotates them `istio.io/rev: <revision>`). */
    pods: ListedMeta[];
    /** Deployments, StatefulSets and DaemonSets. */
    workloads: ListedWorkload[];
    /** MutatingWebhookConfigurations of revision tags (label `istio.io/tag`, pointing at `istio.io/rev`). */
    tagWebhooks: ListedMeta[];
    /** The Service the default validating webhook (`istiod-default-validator`) calls, when it exists. */
    defaultValidatorService?: string;
}

/** One object that still refers to the revision, and how. */
export interface RevisionReference {
    /** `Namespace`, `Pod`, `Deployment`, `MutatingWebhookConfiguration`, ... */
    kind: string;
    /** `<namespace>/<name>`, or the name of a cluster-scoped object. */
    name: string;
    /** How it refers to the revision, e.g. `label istio.io/rev=1-30-8`. */
    how: string;
    /** True when the object is being deleted already (a pod draining). */
    terminating: boolean;
}

const REV = "istio.io/rev";
const TAG = "istio.io/tag";
const INJECTION = "istio-injection";
const INJECT = "sidecar.istio.io/inject";
/** Helm's annotation naming the release an object belongs to. */
const HELM_RELEASE = "meta.helm.sh/release-name";

const qualified = (m: ListedMeta) => (m.namespace ? `${m.namespace}/${m.name}` : m.name);

/**
 * The objects that refer to `revision` (`default`: the revision-less istiod): namespaces labelled
 * for it, pods it injected, workloads whose pod template asks for it, revision tags pointing at
 * it, and the default validating webhook calling it. The istiod release's own objects
 * (`ownRelease`) do not count.
 */
export function revisionReferences(revision: string, inventory: RevisionInventory, ownRelease: string): RevisionReference[] {
    const refs: RevisionReference[] = [];
    // Everything in a namespace being deleted goes with it.
    const leaving = new Set(inventory.namespaces.filter((ns) => ns.deletionTimestamp !== undefined).map((ns) => ns.name));
    const add = (kind: string, meta: ListedMeta, how: string) => refs.push({
        kind, name: qualified(meta), how, terminating: meta.deletionTimestamp !== undefined || (meta.namespace !== undefined && leaving.has(meta.namespace)),
    });
    // istio-injection=enabled is served by the revision-less istiod, unless a "default" tag sends it elsewhere.
    const defaultTagElsewhere = inventory.tagWebhooks.some((w) => w.labels?.[TAG] === DEFAULT_REVISION_NAME && w.labels?.[REV] !== DEFAULT_REVISION_NAME);
    for (const ns of inventory.namespaces) {
        // istio-injection wins over istio.io/rev when both are set.
        if (ns.labels?.[INJECTION] === "enabled") {
            if (revision === DEFAULT_REVISION_NAME && !defaultTagElsewhere) add("Namespace", ns, `label ${INJECTION}=enabled`);
        } else if (ns.labels?.[REV] === revision) add("Namespace", ns, `label ${REV}=${revision}`);
    }
    for (const pod of inventory.pods) {
        if (pod.annotations?.[REV] === revision) add("Pod", pod, `annotation ${REV}=${revision} (a sidecar injected by it)`);
    }
    for (const w of inventory.workloads) {
        if (w.metadata.annotations?.[HELM_RELEASE] === ownRelease || w.templateLabels[INJECT] === "false") continue;
        if (w.templateLabels[REV] === revision) add(w.kind, w.metadata, `pod template label ${REV}=${revision}`);
    }
    for (const hook of inventory.tagWebhooks) {
        if (hook.labels?.[REV] === revision && hook.labels?.[TAG] !== undefined) add("MutatingWebhookConfiguration", hook, `revision tag ${hook.labels[TAG]}`);
    }
    const service = revision === DEFAULT_REVISION_NAME ? "istiod" : `istiod-${revision}`;
    if (inventory.defaultValidatorService === service) {
        refs.push({ kind: "ValidatingWebhookConfiguration", name: "istiod-default-validator", how: `calls ${service} (the base chart's defaultRevision)`, terminating: false });
    }
    return refs;
}

/** The most objects a refusal lists by name; the rest are counted. */
const SHOWN = 20;

/** The refusal when something still refers to the revision an istiod release serves. */
export function revisionGuardMessage(release: string, revision: string, refs: RevisionReference[]): string {
    const lines = refs.slice(0, SHOWN).map((r) => `  - ${r.kind} ${r.name}: ${r.how}${r.terminating ? " (terminating)" : ""}`);
    if (refs.length > SHOWN) lines.push(`  - and ${refs.length - SHOWN} more`);
    return `Refusing to delete the istiod Helm release ${release}: revision ${revision} still serves ${refs.length} object(s), which would lose their ` +
        `control plane (no config, no certificate renewal):\n${lines.join("\n")}\n` +
        "Move them to another revision first: pin both colors (blueIstioRevision, greenIstioRevision) and ingressIstioRevision to a listed revision, " +
        "point istioValidatorRevision and istioRevision (the namespace label) at one, run pulumi up, and once their pods have restarted unlist this revision " +
        "from istioControlPlanes. Pods still terminating go away by themselves: run pulumi up again. The release is kept until then.";
}

/** The revision an istiod Release's inputs install (`default`: the revision-less one), or undefined for another chart. */
export function revisionOfIstiodRelease(inputs: Record<string, any> | undefined): string | undefined {
    const chart = typeof inputs?.chart === "string" ? inputs.chart : "";
    if (chart !== "istiod" && !chart.endsWith("/istiod")) return undefined;
    const revision = inputs?.values?.revision;
    return typeof revision === "string" && revision !== "" ? revision : DEFAULT_REVISION_NAME;
}

/**
 * The refusal of an in-place version change of one istiod, or undefined: its running proxies keep
 * the version they were injected with, and Istio lets a control plane lead its data plane by one
 * minor, never trail it. So a lower version, or a jump of more than one minor, is refused; a
 * revision-based upgrade (a new revision beside it) takes up to two minors.
 */
export function inPlaceUpgradeProblem(revision: string, before: unknown, after: unknown): string | undefined {
    if (!isIstioVersion(before) || !isIstioVersion(after) || before === after) return undefined;
    const how = `List a new revision at ${after} beside it in istioControlPlanes and move to it step by step (docs/istio-upgrades.md)`;
    if (compareVersions(after, before) < 0) {
        return `Refusing to change the istiod of revision ${revision} from ${before} to ${after} in place: its pods run ${before} proxies, and a control plane ` +
            `must never be older than a data plane it serves. ${how}, or set the version back to ${before}.`;
    }
    if (minorOf(after) - minorOf(before) > 1) {
        return `Refusing to upgrade the istiod of revision ${revision} from ${before} to ${after} in place: Istio upgrades in place one minor at a time, ` +
            `and its pods run ${before} proxies. ${how}, or go to 1.${minorOf(before) + 1} first.`;
    }
    return undefined;
}

/** Seconds the guard waits for objects already being deleted (pods draining) before it refuses. */
export const GUARD_WAIT_SECONDS = 180;
/** Seconds between two listings while it waits. */
export const GUARD_POLL_SECONDS = 5;

/**
 * The guard before an istiod release is deleted: lists what refers to its revision and returns
 * when nothing does; while only terminating objects do, lists again every
 * {@link GUARD_POLL_SECONDS} for up to {@link GUARD_WAIT_SECONDS}; otherwise throws naming them.
 */
export async function guardRevision(params: {
    revision: string; release: string; list: () => Promise<RevisionInventory>; sleep: (seconds: number) => Promise<void>;
}): Promise<void> {
    for (let waited = 0; ; waited += GUARD_POLL_SECONDS) {
        const refs = revisionReferences(params.revision, await params.list(), params.release);
        if (refs.length === 0) return;
        if (refs.some((r) => !r.terminating) || waited >= GUARD_WAIT_SECONDS) throw new Error(revisionGuardMessage(params.release, params.revision, refs));
        await params.sleep(GUARD_POLL_SECONDS);
    }
}

/** The revision a `base` Release's inputs point the default validator at (`default` when unset), or undefined for another chart. */
export function validatorOfBaseRelease(inputs: Record<string, any> | undefined): string | undefined {
    const chart = typeof inputs?.chart === "string" ? inputs.chart : "";
    if (chart !== "base" && !chart.endsWith("/base")) return undefined;
    const revision = inputs?.values?.defaultRevision;
    return typeof revision === "string" && revision !== "" ? revision : DEFAULT_REVISION_NAME;
}

/** True when a Deployment as the API returns it is Available (its Available condition, or a ready replica). */
export function deploymentAvailable(deployment: any): boolean {
    const condition = (deployment?.status?.conditions ?? []).find((c: { type?: string }) => c.type === "Available");
    return condition ? condition.status === "True" : (deployment?.status?.availableReplicas ?? 0) > 0;
}

/**
 * The refusal when `base` is about to point the default validating webhook at a revision whose
 * istiod is not Available: once istiod has set it to fail closed, every unlabelled Istio config
 * write would be refused until it is. This is the one-step `istioRevision` change (base moves
 * first, the new istiod comes after it, the old one is deleted at the end).
 */
export function validatorNotReadyMessage(from: string, to: string, namespace: string): string {
    const deployment = to === DEFAULT_REVISION_NAME ? "istiod" : `istiod-${to}`;
    return `Refusing to point the default validating webhook (base defaultRevision) from revision ${from} to ${to}: Deployment ${namespace}/${deployment} ` +
        "is not Available, and the webhook fails closed, so every Istio config write would be refused until it is. Install the revision first: " +
        `list both in istioControlPlanes (istioControlPlanes=["${from}=<version>","${to}=<version>"], istioValidatorRevision=${from}, ingressIstioRevision=${from}), ` +
        `run pulumi up, then move the validator with istioValidatorRevision=${to}. Changing istioRevision alone does this in one step, which would also orphan every ` +
        "running sidecar of the old revision.";
}
