/// The kernel's own services. Kernel.start adds them before it loads any
/// plugin, so the router gives their names to the kernel, never to a plugin.
enum KernelServices {
    static func register(router: Router, plugins: PluginHost, health: HealthState, storage: Storage?,
                         access: AccessControl, limits: KernelConfig.Limits) {
        var services: [any KernelService] = [
            HealthService(router: router, health: health),
            EventsService(),
            ReflectionService(router: router, plugins: plugins, limits: limits),
            PluginsService(plugins: plugins),
            AccessService(access: access, router: router, storage: storage),
            AuditService(storage: storage, limits: limits),
        ]
        if let storage { services.append(StorageService(storage: storage)) }
        for method in services.flatMap(\.methods) {
            router.add(.kernel(method), name: method.fullName)
        }
    }
}
