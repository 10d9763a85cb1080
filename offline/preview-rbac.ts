// The least Kubernetes privilege a truthful `pulumi preview` of this program needs, for the
// read-only PR preview identity. pulumi-kubernetes previews with server-side-apply dry runs, and the
// API server authorizes a dry run exactly like the write (RBAC has no dry-run verb); with read verbs
// only, the provider silently falls back to a client-side preview that skips validation and
// admission. So the role grants create and patch, and a ValidatingAdmissionPolicy refuses every
// request of that identity that is not a dry run. e2e/pr-preview.ts proves each part.
//   npx ts-node offline/preview-rbac.ts --user <name> | kubectl apply --server-side -f -
import { parseArgs } from "node:util";
import { stringify } from "yaml";
import { CliError, runCommand } from "./cli";

/** What the role may do: read, and dry-run create/patch (enforced by the admission policy). */
const VERBS = ["get", "list", "watch", "create", "patch"];

/** The kinds this program declares, by API group (Secrets are not among them: never granted). */
export const PREVIEW_RESOURCES: Record<string, string[]> = {
    "": ["namespaces", "services"],
    "apps": ["deployments"],
    "policy": ["poddisruptionbudgets"],
    "networking.istio.io": ["virtualservices", "destinationrules", "gateways", "serviceentries"],
    "security.istio.io": ["peerauthentications", "authorizationpolicies", "requestauthentications"],
    "cert-manager.io": ["certificates"],
    "monitoring.googleapis.com": ["podmonitorings"],
};

/** The name every object of the preview access carries. */
export const PREVIEW_ACCESS_NAME = "bluegreen-pr-preview";

/** The subject the objects are for: a user (on GKE, the preview service account's email) or a ServiceAccount. */
export interface PreviewSubject {
    kind: "User" | "ServiceAccount";
    name: string;
    namespace?: string;
}

/** The username the API server sees for a subject (what the admission policy matches). */
export function username(subject: PreviewSubject): string {
    return subject.kind === "User" ? subject.name : `system:serviceaccount:${subject.namespace}:${subject.name}`;
}

/** ClusterRole and binding (reads plus dry-run writes), and the admission policy and binding that allow that identity dry runs only. */
export function previewAccessObjects(subject: PreviewSubject): object[] {
    const user = username(subject);
    return [
        {
            apiVersion: "rbac.authorization.k8s.io/v1", kind: "ClusterRole", metadata: { name: PREVIEW_ACCESS_NAME },
            rules: Object.entries(PREVIEW_RESOURCES).map(([group, resources]) => ({ apiGroups: [group], resources, verbs: [...VERBS] })),
        },
        {
            apiVersion: "rbac.authorization.k8s.io/v1", kind: "ClusterRoleBinding", metadata: { name: PREVIEW_ACCESS_NAME },
            roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: PREVIEW_ACCESS_NAME },
            subjects: [subject.kind === "User"
                ? { apiGroup: "rbac.authorization.k8s.io", kind: "User", name: subject.name }
                : { kind: "ServiceAccount", name: subject.name, namespace: subject.namespace }],
        },
        {
            apiVersion: "admissionregistration.k8s.io/v1", kind: "ValidatingAdmissionPolicy", metadata: { name: PREVIEW_ACCESS_NAME },
            spec: {
                failurePolicy: "Fail",
                matchConstraints: {
                    resourceRules: [{ apiGroups: ["*"], apiVersions: ["*"], operations: ["CREATE", "UPDATE", "DELETE", "CONNECT"], resources: ["*/*"] }],
                },
                matchConditions: [{ name: "pr-preview-identity", expression: `request.userInfo.username == ${JSON.stringify(user)}` }],
                validations: [{ expression: "request.dryRun == true", message: "the PR preview identity may only dry-run (pulumi preview); deploys run as the deploy identity" }],
            },
        },
        {
            apiVersion: "admissionregistration.k8s.io/v1", kind: "ValidatingAdmissionPolicyBinding", metadata: { name: PREVIEW_ACCESS_NAME },
            spec: { policyName: PREVIEW_ACCESS_NAME, validationActions: ["Deny"] },
        },
    ];
}

async function main(): Promise<number> {
    const { values } = parseArgs({ options: { user: { type: "string" }, "service-account": { type: "string" } } });
    let subject: PreviewSubject;
    if (values.user) subject = { kind: "User", name: values.user };
    else if (values["service-account"]?.includes("/")) {
        const [namespace, name] = values["service-account"].split("/");
        subject = { kind: "ServiceAccount", name, namespace };
    } else throw new CliError("--user <name> (on GKE: the preview service account's email) or --service-account <namespace>/<name> is required", 2);
    process.stdout.write(previewAccessObjects(subject).map((o) => stringify(o, { lineWidth: 0 })).join("---\n"));
    return 0;
}

if (require.main === module) runCommand(main);
