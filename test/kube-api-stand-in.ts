// A stand-in for the Kubernetes API server on a loopback port: serves the lists the revision
// guard reads, one item per page (so continue tokens are followed), and records every request.
import * as http from "node:http";
import { AddressInfo } from "node:net";

/** A running stand-in: its kubeconfig (with a bearer token), the requests it saw, and how to stop it. */
export interface KubeApiStandIn {
    kubeconfig: string;
    requests: { url: string; auth?: string }[];
    /** Items per list path (`/api/v1/pods`), and objects per exact path (a GET of one object); changeable between requests. */
    lists: Record<string, any[]>;
    objects: Record<string, any>;
    close(): Promise<void>;
}

/** Starts a stand-in serving `lists` and `objects`; anything else is 404. */
export async function startKubeApiStandIn(lists: Record<string, any[]> = {}, objects: Record<string, any> = {}): Promise<KubeApiStandIn> {
    const standIn = { requests: [] as { url: string; auth?: string }[], lists, objects } as KubeApiStandIn;
    const server = http.createServer((req, res) => {
        const url = new URL(req.url!, "http://localhost");
        standIn.requests.push({ url: req.url!, auth: req.headers.authorization });
        const object = standIn.objects[url.pathname];
        const items = standIn.lists[url.pathname];
        if (object === undefined && items === undefined) {
            res.statusCode = 404;
            res.end("{}");
            return;
        }
        if (object !== undefined) {
            res.end(JSON.stringify(object));
            return;
        }
        const at = Number(url.searchParams.get("continue") ?? 0);
        res.end(JSON.stringify({ items: items.slice(at, at + 1), metadata: at + 1 < items.length ? { continue: String(at + 1) } : {} }));
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const port = (server.address() as AddressInfo).port;
    standIn.kubeconfig = `apiVersion: v1
kind: Config
current-context: test
contexts:
- name: test
  context: { cluster: local, user: me }
clusters:
- name: local
  cluster: { server: "http://127.0.0.1:${port}" }
users:
- name: me
  user: { token: abc123 }
`;
    standIn.close = () => new Promise<void>((resolve) => server.close(() => resolve()));
    return standIn;
}

/** The empty lists of every kind the guard reads. */
export const EMPTY_CLUSTER: Record<string, any[]> = {
    "/api/v1/namespaces": [], "/api/v1/pods": [], "/apis/apps/v1/deployments": [], "/apis/apps/v1/statefulsets": [], "/apis/apps/v1/daemonsets": [],
    "/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations": [],
};
