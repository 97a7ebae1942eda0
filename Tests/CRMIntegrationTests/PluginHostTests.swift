import CRMClient
import CRMProto
import CRMTestSupport
import CRMWire
import Foundation
import Testing

/// Plugins that must be refused, each with its reason visible in
/// Plugins.List, while the others load and serve.
@Suite struct PluginHostTests {
    @Test func refusedPluginsShowTheirReasonWhileTheOthersServe() async throws {
        let crmd = try CrmdProcess(plugins: ["probe", "tablebooking", "badabi", "needsmissing", "failinit",
                                             "dupmethod", "oldrange"])
        let client = try crmd.connect()
        let plugins = try await allPlugins(client)
        func plugin(_ name: String) throws -> Crm_Kernel_V1_PluginInfo {
            try #require(plugins.first { $0.name == name }, "\(name) missing from Plugins.List")
        }
        #expect(try plugin("probe").state == .loaded)
        #expect(try plugin("tablebooking").state == .loaded)

        let badabi = try plugin("badabi")
        #expect(badabi.state == .failed)
        #expect(badabi.reason.contains("ABI 999"))

        let needsMissing = try plugin("needsmissing")
        #expect(needsMissing.state == .failed)
        #expect(needsMissing.reason.contains("nosuchplugin"))
        #expect(needsMissing.reason.contains("not installed"))

        let failinit = try plugin("failinit")
        #expect(failinit.state == .failed)
        #expect(failinit.reason.contains("FAILED_PRECONDITION"))
        #expect(failinit.reason.contains("license key missing"))

        let dup = try plugin("dupmethod")
        #expect(dup.state == .failed)
        #expect(dup.reason.contains("service of method /crm.testing.v1.Probe/Echo belongs to plugin probe"))

        let oldrange = try plugin("oldrange")
        #expect(oldrange.state == .failed)
        #expect(oldrange.reason.contains(">=2.0.0"))
        #expect(oldrange.reason.contains("1.0.0 is installed"))

        // The survivors serve.
        _ = try await client.call("/crm.testing.v1.Probe/Echo", [])
        await #expect(throws: RPCError.self) { _ = try await client.call("/crm.testing.v1.BadAbi/Ping", []) }
        #expect(crmd.log.contains("license key missing"))
    }

    @Test func enableListLoadsOnlyWhatItNamesAndReportsMissingOnes() async throws {
        let crmd = try CrmdProcess(plugins: ["probe", "tablebooking"], arguments: ["--enable", "tablebooking,ghost"])
        let client = try crmd.connect()
        let plugins = try await allPlugins(client)
        #expect(plugins.first { $0.name == "tablebooking" }?.state == .loaded)
        #expect(plugins.first { $0.name == "probe" }?.state == .disabled)
        let ghost = try #require(plugins.first { $0.name == "ghost" })
        #expect(ghost.state == .failed)
        #expect(ghost.reason.contains("no ghost.plugin.json"))
        await #expect(throws: RPCError(.unimplemented, "unknown method /crm.testing.v1.Probe/Echo")) {
            _ = try await client.call("/crm.testing.v1.Probe/Echo", [])
        }
    }

    @Test func dependentPluginIsRefusedWhenItsDependencyIsDisabled() async throws {
        let crmd = try CrmdProcess(plugins: ["tablebooking", "oldrange"], arguments: ["--enable", "oldrange"])
        let plugins = try await allPlugins(try crmd.connect())
        let oldrange = try #require(plugins.first { $0.name == "oldrange" })
        #expect(oldrange.state == .failed)
        #expect(oldrange.reason.contains("tablebooking"))
        #expect(oldrange.reason.contains("disabled"))
    }

    @Test func corruptManifestOrMissingLibraryIsReportedNotFatal() async throws {
        let crmd = try CrmdProcess(plugins: ["probe"], pluginFiles: [
            "broken.plugin.json": "{ not json",
            "ghostlib.plugin.json": #"{"name":"ghostlib","version":"1.0.0","abi_version":1,"library":"ghostlib.so"}"#,
        ])
        let plugins = try await allPlugins(try crmd.connect())
        #expect(plugins.first { $0.name == "broken" }?.state == .failed)
        let ghost = try #require(plugins.first { $0.name == "ghostlib" })
        #expect(ghost.state == .failed)
        #expect(ghost.reason.contains("cannot load"))
        #expect(plugins.first { $0.name == "probe" }?.state == .loaded)
    }

    @Test func pluginNamesThatCouldShareATablePrefixAreRefused() async throws {
        func manifest(_ name: String) -> String {
            #"{"name":"\#(name)","version":"1.0.0","abi_version":1,"library":"probe.so"}"#
        }
        let crmd = try CrmdProcess(plugins: ["probe"], pluginFiles: [
            "underscore.plugin.json": manifest("probe_extra"),
            "upper.plugin.json": manifest("Probe2"),
            "kernel.plugin.json": manifest("kernel"),
        ])
        let plugins = try await allPlugins(try crmd.connect())
        let extra = try #require(plugins.first { $0.name == "probe_extra" })
        #expect(extra.state == .failed)
        #expect(extra.reason.contains("lowercase letters and digits"))
        #expect(plugins.first { $0.name == "Probe2" }?.state == .failed)
        let kernel = try #require(plugins.first { $0.name == "kernel" })
        #expect(kernel.reason.contains("reserved"))
        #expect(plugins.first { $0.name == "probe" }?.state == .loaded)
    }

    @Test func pluginsListPaginates() async throws {
        let crmd = try CrmdProcess(plugins: ["probe", "tablebooking", "badabi", "failinit", "needsmissing"])
        let client = try crmd.connect()
        var names: [String] = []
        var token = ""
        var pages = 0
        repeat {
            let page = try await client.call("/crm.kernel.v1.Plugins/List",
                                             Crm_Kernel_V1_ListPluginsRequest.with { $0.pageSize = 2; $0.pageToken = token },
                                             as: Crm_Kernel_V1_ListPluginsResponse.self)
            #expect(page.plugins.count <= 2)
            names += page.plugins.map(\.name)
            token = page.nextPageToken
            pages += 1
        } while !token.isEmpty
        #expect(pages == 3)
        #expect(names == ["badabi", "failinit", "needsmissing", "probe", "tablebooking"])
        await #expect(throws: RPCError(.invalidArgument, "page_token is not valid")) {
            _ = try await client.call("/crm.kernel.v1.Plugins/List",
                                      Crm_Kernel_V1_ListPluginsRequest.with { $0.pageToken = "bogus" },
                                      as: Crm_Kernel_V1_ListPluginsResponse.self)
        }
    }
}
