// The tests evaluate through the same recording mock engine as the offline tools.
export * from "../offline/engine";

/**
 * Overrides that point the dev stack at an existing cluster with its own mesh: an inline
 * kubeconfig (a path must exist), and the stack file's cluster settings back at their defaults
 * (with kubeconfig set they would be refused as meaningless).
 */
export const DEV_ON_EXISTING_CLUSTER: Readonly<Record<string, string>> = {
    kubeconfig: "apiVersion: v1\nkind: Config\n",
    clusterName: "bluegreen",
    deletionProtection: "auto",
    installIstio: "false",
};
