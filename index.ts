// The Pulumi program: reads the stack configuration and composes the components.
import * as pulumi from "@pulumi/pulumi";
import * as k8s from "@pulumi/kubernetes";
import { BlueGreenService, readStackConfig } from "./components";

export = async () => {
    const config = new pulumi.Config();
    // Validates every setting before any resource is declared.
    const settings = readStackConfig((key) => config.get(key));

    // An explicit provider, so every object carries the same one; without a kubeconfig setting it
    // uses the ambient kubeconfig, as kubectl would.
    const provider = new k8s.Provider("k8s", { kubeconfig: settings.kubeconfig });
    const workload = new BlueGreenService("bluegreen", settings.workload, { providers: [provider] });

    return {
        activeColor: workload.activeColor,
        idleColor: workload.idleColor,
        namespace: workload.namespaceName,
        hosts: workload.hosts,
        serviceAddress: workload.serviceAddress,
        curlCommands: workload.curlCommands,
    };
};
