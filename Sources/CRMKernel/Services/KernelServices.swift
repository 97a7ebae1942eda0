/// The kernel's own services, added to the router before any plugin's, so
/// no plugin can claim one of their names.
enum KernelServices {
    static func register(router: Router, plugins: PluginHost, health: HealthState, storage: Storage?,
                         limits: KernelConfig.Limits) {
        var services: [any KernelService] = [
            HealthService(router: router, health: health),
            EventsService(),
            ReflectionService(router: router, plugins: plugins, limits: limits),
            PluginsService(plugins: plugins),
        ]
        if let storage { services.append(StorageService(storage: storage)) }
        for method in services.flatMap(\.methods) {
            router.add(.kernel(method), name: method.fullName)
        }
    }
}
