import CRMKernelContract

/// crm.kernel.v1.Plugins: every plugin found, whether it loaded, and why not.
struct PluginsService: KernelService {
    static let name = "crm.kernel.v1.Plugins"
    let plugins: PluginHost

    var methods: [KernelMethod] {
        [.unary(Self.name, "List", Crm_Kernel_V1_ListPluginsRequest.self, Crm_Kernel_V1_ListPluginsResponse.self) {
            [plugins] req in
            let all = plugins.plugins.map(Self.pluginInfo)
            let (page, next) = try PageToken.page(all, list: "plugins", size: req.pageSize, token: req.pageToken)
            return .with { $0.plugins = page; $0.nextPageToken = next }
        }]
    }

    private static func pluginInfo(_ record: PluginRecord) -> Crm_Kernel_V1_PluginInfo {
        .with {
            $0.name = record.name
            $0.version = record.version
            $0.state = record.state
            $0.reason = record.reason
            $0.path = record.libraryPath
            $0.abiVersion = record.abiVersion
            $0.description_p = record.summary
            $0.dependencies = record.dependencies.map { dep in .with { $0.name = dep.name; $0.versionRange = dep.range } }
            $0.services = record.services
            $0.loadOrder = UInt32(record.loadOrder)
            $0.subscribes = record.subscriptions.map(\.text)
            if let status = record.subscriber?.status {
                $0.eventPosition = status.position
                $0.eventLag = status.lag
                $0.eventError = status.error
            }
        }
    }
}
