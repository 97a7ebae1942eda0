import CRMClient
import CRMProto
import CRMTestSupport
import Testing

/// The marketing plugin loads beside contacts alone (no sales), and is
/// refused, with the reason, without contacts.
@Suite struct MarketingLoadTests {
    private func plugins(_ crmd: CrmdProcess) async throws -> [Crm_Kernel_V1_PluginInfo] {
        let response: Crm_Kernel_V1_ListPluginsResponse = try await crmd.connect().call(
            "/crm.kernel.v1.Plugins/List", Crm_Kernel_V1_ListPluginsRequest(), as: Crm_Kernel_V1_ListPluginsResponse.self)
        return response.plugins
    }

    @Test func loadsWithContactsAloneAndFollowsItsEvents() async throws {
        let crmd = try CrmdProcess(plugins: ["contacts", "marketing"])
        let marketing = try #require(try await plugins(crmd).first { $0.name == "marketing" })
        #expect(marketing.state == .loaded, "\(marketing.reason)")
        #expect(marketing.subscribes.contains("contacts.contact.*"))
    }

    @Test func isRefusedWithoutContactsSayingWhy() async throws {
        let crmd = try CrmdProcess(plugins: ["marketing"])
        let marketing = try #require(try await plugins(crmd).first { $0.name == "marketing" })
        #expect(marketing.state != .loaded)
        #expect(marketing.reason.contains("contacts"), "\(marketing.reason)")
    }
}
