import CRMKernelContract
import Foundation

/// The kernel's own methods declare their semantics in their .proto too
/// (crm/kernel/v1): read once from the kernel's descriptor set.
enum KernelSemantics {
    private static let byMethod: [String: MethodSemantics] = {
        guard let contract = try? PluginContract(descriptorSet: Data(kernelDescriptorSet)) else { return [:] }
        var semantics: [String: MethodSemantics] = [:]
        for rpc in contract.services.values.joined() {
            guard let options = rpc.semantics else { continue }
            semantics[rpc.fullName] = MethodSemantics(writes: options.writes, idempotent: options.idempotent,
                                                      permission: options.permission, declared: true)
        }
        return semantics
    }()

    static func of(_ fullName: String) -> MethodSemantics { byMethod[fullName] ?? MethodSemantics() }
}

extension Route {
    /// What the method declares: the plugin's options, or the kernel's own.
    var semantics: MethodSemantics {
        switch self {
        case .kernel(let method): KernelSemantics.of(method.fullName)
        case .plugin(let method): method.semantics
        }
    }
}
