import * as pulumi from "@pulumi/pulumi";
import * as k8s from "@pulumi/kubernetes";
import { HELM_RECOVERY } from "./istio-mesh";
import { ConfigProblem, checkDnsLabel, describe, throwIfProblems } from "./validation";
import { componentType, withPreviousType } from "./tokens";

/** cert-manager's official Helm chart repository. */
export const CERT_MANAGER_CHART_REPOSITORY = "https://charts.jetstack.io";
/** The cert-manager chart version installed by default. */
export const DEFAULT_CERT_MANAGER_VERSION = "v1.21.2";

/** Arguments of CertManager. */
export interface CertManagerArgs {
    /** Chart version (cert-manager release), e.g. `v1.21.2`. Default `v1.21.2` (`DEFAULT_CERT_MANAGER_VERSION`). */
    version?: string;
    /** Namespace to install into. Default `cert-manager`. */
    namespace?: string;
}

/** Defaults of {@link CertManagerArgs}. */
export const CERT_MANAGER_DEFAULTS: Required<CertManagerArgs> = { version: DEFAULT_CERT_MANAGER_VERSION, namespace: "cert-manager" };

/** Checks arguments with defaults applied. */
export function checkCertManagerArgs(a: Required<CertManagerArgs>): ConfigProblem[] {
    return [
        ...checkDnsLabel("namespace", a.namespace),
        ...(typeof a.version === "string" && /^v\d+\.\d+\.\d+$/.test(a.version) ? []
            : [{ setting: "version", message: `got ${describe(a.version)}; allowed values: an exact cert-manager release such as ${DEFAULT_CERT_MANAGER_VERSION}` }]),
    ];
}

/**
 * The child resources of a CertManager, for TypeScript programs. Kept out of the class's own fields:
 * Pulumi's schema analyzer turns every field into an output, and these are not outputs.
 */
interface CertManagerChildren {
    ready: pulumi.Resource[];
}
const certManagerChildren = new WeakMap<CertManager, CertManagerChildren>();

/**
 * cert-manager from its official Helm chart, pinned, with its CRDs, awaited until ready so that
 * Certificates can be created right after it.
 */
export class CertManager extends pulumi.ComponentResource {
    constructor(name: string, args: CertManagerArgs = {}, opts?: pulumi.ComponentResourceOptions) {
        const a: Required<CertManagerArgs> = { ...CERT_MANAGER_DEFAULTS, ...args };
        throwIfProblems(checkCertManagerArgs(a));
        super(componentType("CertManager"), name, {}, withPreviousType(opts, "bluegreen:tls:CertManager"));
        const kids = {} as CertManagerChildren;
        certManagerChildren.set(this, kids);
        const ns = new k8s.core.v1.Namespace(`${name}-namespace`, {
            metadata: { name: a.namespace, labels: { "app.kubernetes.io/managed-by": "pulumi" } },
        }, { parent: this });
        const release = new k8s.helm.v3.Release(`${name}-release`, {
            name: "cert-manager",
            chart: "cert-manager",
            version: a.version,
            namespace: a.namespace,
            repositoryOpts: { repo: CERT_MANAGER_CHART_REPOSITORY },
            values: { crds: { enabled: true } },
            skipAwait: false,
            timeout: 600,
            // A failed install is uninstalled, so the next pulumi up can install again.
            ...HELM_RECOVERY,
        }, { parent: this, dependsOn: [ns] });
        kids.ready = [release];
        this.registerOutputs({ version: a.version });
    }

    /** What Certificate resources must wait for: the release with its CRDs and webhook. */
    get ready(): pulumi.Resource[] {
        return certManagerChildren.get(this)!.ready;
    }
}
