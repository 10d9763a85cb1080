// The CrossGuard policy pack: pulumi preview --policy-pack policy
import { PolicyPack } from "@pulumi/policy";
import { policies } from "./policies";

new PolicyPack("gke-istio-bluegreen", {
    description: "Guards the GKE + Istio blue-green stack: routing, replicas, sidecar injection, containers, cluster hardening.",
    enforcementLevel: "mandatory",
    policies,
});
