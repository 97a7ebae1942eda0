import CRMKernelCore
import Testing

@Suite struct PluginPlanTests {
    private func plugin(_ name: String, _ version: String = "1.0.0", _ dependencies: [(name: String, range: String)] = [],
                        _ state: PluginPlan.Candidate.State = .eligible) -> PluginPlan.Candidate {
        .init(name: name, version: version, dependencies: dependencies, state: state)
    }

    private func reasons(_ order: PluginPlan.Order) -> [String: String] {
        Dictionary(order.failures.map { ($0.name, $0.reason) }, uniquingKeysWith: { first, _ in first })
    }

    @Test func dependenciesComeFirstWhateverTheInputOrder() {
        let plugins = [plugin("b2b", "1.0.0", [("sales", "^1.0")]), plugin("sales", "1.2.0", [("contacts", ">=1.0.0")]),
                       plugin("contacts"), plugin("alpha")]
        for input in [plugins, plugins.reversed()] {
            let order = PluginPlan.order(input)
            #expect(order.loadOrder == ["alpha", "contacts", "sales", "b2b"])
            #expect(order.failures.isEmpty)
        }
    }

    @Test func missingDependencyFails() {
        let order = PluginPlan.order([plugin("sales", "1.0.0", [("contacts", "^1.0")])])
        #expect(order.loadOrder.isEmpty)
        #expect(reasons(order) == ["sales": "depends on contacts ^1.0, which is not installed"])
    }

    @Test func wrongVersionFails() {
        let order = PluginPlan.order([plugin("contacts", "2.0.0"), plugin("sales", "1.0.0", [("contacts", "^1.0")])])
        #expect(order.loadOrder == ["contacts"])
        #expect(reasons(order) == ["sales": "depends on contacts ^1.0, but 2.0.0 is installed"])
    }

    @Test func malformedRangeFails() {
        let order = PluginPlan.order([plugin("contacts"), plugin("sales", "1.0.0", [("contacts", "~1")])])
        #expect(reasons(order) == ["sales": "dependency range \"~1\" for contacts is not valid"])
    }

    @Test func disabledOrFailedDependencyFailsItsDependents() {
        let order = PluginPlan.order([
            plugin("contacts", "1.0.0", [], .disabled("not in the enable list")),
            plugin("sales", "1.0.0", [("contacts", "")]),
            plugin("broken", "1.0.0", [], .failed("bad manifest")),
            plugin("b2b", "1.0.0", [("broken", "")]),
            plugin("loyalty", "1.0.0", [("b2b", "")]),
        ])
        #expect(order.loadOrder.isEmpty)
        #expect(reasons(order) == [
            "sales": "depends on contacts , which is disabled",
            "b2b": "depends on broken , which is not loaded",
            "loyalty": "depends on b2b , which is not loaded",
        ], "a plugin already disabled or failed keeps its own reason")
    }

    @Test func cycleFailsEveryMemberAndItsDependents() {
        let order = PluginPlan.order([
            plugin("a", "1.0.0", [("b", "")]), plugin("b", "1.0.0", [("c", "")]), plugin("c", "1.0.0", [("a", "")]),
            plugin("d", "1.0.0", [("a", "")]), plugin("e"),
        ])
        #expect(order.loadOrder == ["e"])
        #expect(reasons(order) == [
            "a": "dependency cycle: a -> b -> c -> a",
            "c": "depends on a , which is not loaded",
            "b": "depends on c , which is not loaded",
            "d": "depends on a , which is not loaded",
        ])
        #expect(order.failures.count == 4, "each fails once")
    }

    @Test func selfDependencyIsACycle() {
        let order = PluginPlan.order([plugin("a", "1.0.0", [("a", "")])])
        #expect(reasons(order) == ["a": "dependency cycle: a -> a"])
    }

    @Test func sharedDependencyLoadsOnce() {
        let order = PluginPlan.order([plugin("x", "1.0.0", [("base", ""), ("mid", "")]), plugin("mid", "1.0.0", [("base", "")]),
                                      plugin("base")])
        #expect(order.loadOrder == ["base", "mid", "x"])
    }
}

@Suite struct PluginScreeningTests {
    private func screen(_ name: String, version: String = "1.0.0", abi: UInt32 = 1, enabled: [String]? = nil)
        -> PluginPlan.Candidate.State {
        PluginPlan.screen(name: name, version: version, abiVersion: abi, hostABI: 1, enabled: enabled)
    }

    @Test func eligibleByDefault() {
        #expect(screen("sales") == .eligible)
        #expect(screen("sales", enabled: ["contacts", "sales"]) == .eligible)
    }

    @Test func enableListComesFirst() {
        #expect(screen("Bad Name", enabled: []) == .disabled("not in the enable list"))
    }

    @Test(arguments: ["", "Sales", "9lives", "sales_x", "a-b", String(repeating: "a", count: 33)])
    func badNamesFail(_ name: String) {
        #expect(screen(name) == .failed("plugin name \"\(name)\" must be 1-32 lowercase letters and digits, starting with a letter"))
    }

    @Test(arguments: ["kernel", "crm", "sqlite"])
    func reservedNamesFail(_ name: String) {
        #expect(screen(name) == .failed("plugin name \"\(name)\" is reserved"))
    }

    @Test func abiAndVersionAreChecked() {
        #expect(screen("sales", abi: 2) == .failed("built for plugin ABI 2; this crmd speaks ABI 1"))
        #expect(screen("sales", version: "one") == .failed("version \"one\" is not a semantic version"))
        #expect(screen(String(repeating: "a", count: 32)) == .eligible)
    }
}
