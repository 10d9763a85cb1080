// Several istiod revisions side by side, Istio's canary upgrade: which control planes are
// installed, which revision validates config, which one injects the gateway, and the skew rules
// Istio supports between them. Pure logic; IstioMesh and BlueGreenEnvironment wire it.
import { ConfigProblem, checkDnsLabel, describe } from "./validation";

/**
 * The name Istio gives the revision-less istiod (`istio.io/rev: default` on what it injects). In
 * a list of control planes it names that istiod (Helm release `istiod`); installing an istiod
 * *as* a revision named `default` breaks the charts (see checkIstioMeshArgs).
 */
export const DEFAULT_REVISION_NAME = "default";

/** One istiod installed from the Helm charts: its revision and the Istio version it runs. */
export interface IstioControlPlane {
    /** The revision (`istio.io/rev`), a DNS label of at most 40 characters, e.g. `1-31-4`; `default` is the revision-less istiod (Helm release `istiod`). */
    revision: string;
    /** The Istio version of this istiod and of the proxies it injects, e.g. `1.31.4`. */
    version: string;
}

/** Which control planes run, and who uses which: everything resolved to revision names. */
export interface MeshRevisions {
    /** The installed control planes, in the order given. */
    planes: IstioControlPlane[];
    /** The revision the `base` chart's default validating webhook calls (`defaultRevision`). */
    validator: string;
    /** The revision injecting the ingress gateway's pods. */
    gateway: string;
}

/** The chart's `revision` value for a revision name: empty for the revision-less istiod. */
export function chartRevision(revision: string): string {
    return revision === DEFAULT_REVISION_NAME ? "" : revision;
}

/** The Helm release name of istiod: `istiod`, or `istiod-<revision>` for a revision. */
export function istiodReleaseName(revision: string): string {
    const value = chartRevision(revision);
    return value ? `istiod-${value}` : "istiod";
}

/**
 * The Pulumi resource name of a revision's istiod Release: `<mesh>-istiod` for the revision-less
 * one (the name every stack installed before revisions existed has), `<mesh>-istiod-<revision>`
 * otherwise. A revision's name never depends on the others, so listing or unlisting one never
 * replaces another.
 */
export function istiodResourceName(meshName: string, revision: string): string {
    const value = chartRevision(revision);
    return value ? `${meshName}-istiod-${value}` : `${meshName}-istiod`;
}

/** The Istio minor of an `x.y.z` version (`1.31.4` -> 31). */
export function minorOf(version: string): number {
    return Number(version.split(".")[1]);
}

/** Compares two `x.y.z` versions numerically. */
export function compareVersions(a: string, b: string): number {
    const [x, y] = [a.split(".").map(Number), b.split(".").map(Number)];
    for (let i = 0; i < 3; i++) if ((x[i] ?? 0) !== (y[i] ?? 0)) return (x[i] ?? 0) - (y[i] ?? 0);
    return 0;
}

/** True for an exact `1.y.z` Istio version string. */
export function isIstioVersion(value: unknown): value is string {
    return typeof value === "string" && /^1\.\d+\.\d+$/.test(value);
}

/** The newest version among the planes (the `base` chart's CRDs must serve every one of them). */
export function newestVersion(planes: IstioControlPlane[]): string {
    return planes.map((p) => p.version).reduce((a, b) => (compareVersions(a, b) >= 0 ? a : b));
}

/** The oldest version among the planes (the CNI node agent's: it may trail no control plane it works with). */
export function oldestVersion(planes: IstioControlPlane[]): string {
    return planes.map((p) => p.version).reduce((a, b) => (compareVersions(a, b) <= 0 ? a : b));
}

/**
 * Parses one `<revision>=<version>` entry of the stack setting (`stable=1.30.2`), reporting
 * problems under `setting`.
 */
export function parseControlPlane(setting: string, entry: string): { plane?: IstioControlPlane; problems: ConfigProblem[] } {
    const match = /^\s*([^=\s]+)\s*=\s*(\S+)\s*$/.exec(entry);
    if (!match) {
        return { problems: [{ setting, message: `got ${describe(entry)}; allowed values: <revision>=<version>, e.g. 1-31-4=1.31.4 (default=<version> for the revision-less istiod)` }] };
    }
    return { plane: { revision: match[1], version: match[2] }, problems: [] };
}

/**
 * Checks the control planes against each other and against Istio's skew rules: revisions DNS
 * labels, listed once; at most two minors apart (a revision-based upgrade may jump two); with the
 * CNI agent (installed at the oldest version), at most one minor between it and any control plane;
 * the validator and the gateway on a listed revision, and named explicitly once there are several.
 */
export function checkMeshRevisions(revisions: { planes: IstioControlPlane[]; validator: string | undefined; gateway: string | undefined; cni: boolean },
    path: (setting: string) => string = (s) => s): ConfigProblem[] {
    // Problems are named by argument (IstioMeshArgs); messages name siblings the caller's way (`path`).
    const names = { controlPlanes: "controlPlanes", validatorRevision: "validatorRevision", gatewayRevision: "gatewayRevision" };
    const shown = { controlPlanes: path("controlPlanes"), cni: path("cni") };
    const problems: ConfigProblem[] = [];
    const seen = new Set<string>();
    revisions.planes.forEach((plane, i) => {
        const setting = `${names.controlPlanes}[${i}]`;
        if (plane.revision !== DEFAULT_REVISION_NAME) {
            problems.push(...checkDnsLabel(`${setting}.revision`, plane.revision, 40).map((p) => ({ setting, message: p.message })));
        }
        if (seen.has(plane.revision)) {
            problems.push({ setting, message: `lists revision ${describe(plane.revision)} again; allowed values: each revision once (one istiod per revision)` });
        }
        seen.add(plane.revision);
    });
    const listed = revisions.planes.map((p) => p.revision);
    const allowed = `allowed values: a revision ${shown.controlPlanes} lists (${listed.join(", ")})`;
    for (const [setting, value] of [[names.validatorRevision, revisions.validator], [names.gatewayRevision, revisions.gateway]] as const) {
        if (value === undefined || value === "") {
            if (listed.length > 1) {
                problems.push({ setting, message: `is unset but ${shown.controlPlanes} lists ${listed.length} control planes; ${allowed}, named explicitly so that adding or removing a control plane never moves it` });
            }
        } else if (!listed.includes(value)) {
            problems.push({ setting, message: `is ${describe(value)}, which no installed control plane serves; ${allowed}` });
        }
    }
    const versions = revisions.planes.filter((p) => isIstioVersion(p.version));
    if (versions.length > 1) {
        const newest = newestVersion(versions);
        const oldest = oldestVersion(versions);
        const spread = minorOf(newest) - minorOf(oldest);
        const pair = (version: string) => versions.filter((p) => p.version === version).map((p) => `${p.revision}=${p.version}`)[0];
        if (spread > 2) {
            problems.push({
                setting: names.controlPlanes,
                message: `runs ${pair(oldest)} next to ${pair(newest)}, ${spread} minors apart; allowed values: revisions at most 2 minors apart ` +
                    "(Istio upgrades by revision up to two minors at a time: upgrade through an intermediate revision)",
            });
        } else if (revisions.cni && spread > 1) {
            problems.push({
                setting: names.controlPlanes,
                message: `runs ${pair(oldest)} next to ${pair(newest)} while ${shown.cni} is on: the CNI node agent runs the oldest version, and Istio supports it ` +
                    `only one minor either side of every control plane; allowed values: revisions at most 1 minor apart with CNI (upgrade one minor per revision)`,
            });
        }
    }
    return problems;
}

/**
 * The problem with one reference to a revision (a color's pin, the namespace's label), or none:
 * it must name an installed control plane.
 */
export function checkRevisionReference(setting: string, revision: string, planes: IstioControlPlane[], controlPlanesName: string): ConfigProblem[] {
    if (planes.some((p) => p.revision === revision)) return [];
    return [{
        setting,
        message: `is ${describe(revision)}, which no installed control plane serves (pods labelled for it would start without a sidecar); ` +
            `allowed values: a revision ${controlPlanesName} lists (${planes.map((p) => p.revision).join(", ")})`,
    }];
}
