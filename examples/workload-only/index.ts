// A blue-green workload on a cluster you already have, with Istio and its ingress gateway already
// running there. `pulumi config set activeColor green && pulumi up` moves ordinary traffic to green;
// requests with the header `x-version: blue|green` reach one color whatever the switch says.
import * as pulumi from "@pulumi/pulumi";
import * as k8s from "@pulumi/kubernetes";
import { BlueGreenService, COLORS } from "gke-istio-bluegreen";

const config = new pulumi.Config();

// The cluster of the current kubeconfig context (KUBECONFIG or ~/.kube/config). The identifier keeps
// the provider, and with it every object, from being replaced when the kubeconfig file changes.
const provider = new k8s.Provider("cluster", { clusterIdentifier: "existing-cluster" });

const app = new BlueGreenService("shop", {
    activeColor: config.require("activeColor", { allowedValues: [...COLORS] }),
    namespace: "shop",
    hosts: [config.require("host")],
    colors: {
        blue: { image: config.require("blueImage"), replicas: 2 },
        green: { image: config.require("greenImage"), replicas: 2 },
    },
    // The gateway the Istio Helm chart `gateway` installs as release `istio-ingress`.
    gatewaySelector: { istio: "ingress" },
    gatewayNamespace: "istio-ingress",
}, { providers: [provider] });

export const activeColor = app.activeColor;
export const curl = app.curlCommands;
