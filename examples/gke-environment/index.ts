// The whole environment in one component: a GKE Standard cluster with its own network and node
// pool, Istio installed from its official Helm charts, and the blue-green workload behind Istio's
// ingress gateway. `pulumi config set activeColor green && pulumi up` moves ordinary traffic to
// green; requests with the header `x-version: blue|green` reach one color whatever the switch says.
import * as pulumi from "@pulumi/pulumi";
import { BlueGreenEnvironment, COLORS } from "gke-istio-bluegreen";

const config = new pulumi.Config();

const env = new BlueGreenEnvironment("shop", {
    cluster: {
        project: new pulumi.Config("gcp").require("project"),
        location: config.require("location"),
        clusterName: config.require("clusterName"),
        deletionProtection: config.requireBoolean("deletionProtection"),
        nodePool: { machineType: "e2-standard-4", minNodes: 1, maxNodes: 3 },
    },
    workload: {
        activeColor: config.require("activeColor", { allowedValues: [...COLORS] }),
        namespace: "shop",
        hosts: [config.require("host")],
        colors: {
            blue: { image: "nginx:1.27.5", replicas: 2 },
            green: { image: "nginx:1.28.0", replicas: 2 },
        },
    },
});

export const kubeconfig = env.kubeconfig;
export const ingressAddress = env.ingressAddress;
export const activeColor = env.activeColor;
export const curl = env.curlCommands;
