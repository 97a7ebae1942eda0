import B2BTestClient
import CRMClient
import CRMProto
import CRMWire
import CRMTestSupport
import ContactsTestClient
import Foundation
import SalesTestClient
import SwiftProtobuf

/// crmd with contacts, sales and b2b, and four CRM users acting through
/// this process (crmd's trusted proxy): two sales reps (scope own), a sales
/// manager (all, and the approver) and a read-only user. `admin` acts for
/// no user: crmd's own uid. A EUR price book is the default, with two products.
struct B2BWorld {
    let crmd: CrmdProcess
    let connection: Connection
    let admin: B2BClient
    let ann: B2BClient
    let bob: B2BClient
    let meg: B2BClient
    let rita: B2BClient
    let sales: SalesClient
    let contacts: ContactsClient
    let eur: Crm_B2b_V1_PriceBook
    /// WIDGET at 12.50 EUR, SUPPORT (per hour) at 80.00 EUR.
    let widget: Crm_B2b_V1_Product
    let support: Crm_B2b_V1_Product

    /// - Parameters:
    ///   - environment: crmd's extra environment (plugin settings: CRM_PLUGIN_B2B_<KEY>).
    ///   - dataDir: a data directory that outlives crmd (restart tests); crmd's temp dir otherwise.
    static func start(users: [(String, String)] = [("ann", "sales_rep"), ("bob", "sales_rep"), ("meg", "sales_manager"),
                                                    ("rita", "read_only")],
                      environment: [String: String] = [:], dataDir: String? = nil) async throws -> B2BWorld {
        let crmd = try launch(environment: environment, dataDir: dataDir)
        for (name, role) in users { try await AccessSupport.createUser(crmd, name, roles: [role]) }
        let connection = try crmd.connect()
        let admin = B2BClient(connection: connection)
        let eur = try await admin.createBook("Standard EUR", "EUR")
        let widget = try await admin.createProduct("WIDGET", "Widget")
        let support = try await admin.createProduct("SUPPORT", "Support", unit: "hour")
        try await admin.setPrice(book: eur.id, product: widget.id, 1250)
        try await admin.setPrice(book: eur.id, product: support.id, 8000)
        return try attach(crmd, eur: eur, widget: widget, support: support)
    }

    /// crmd with contacts, sales and b2b, trusting this process as a proxy (AccessSupport.start's flags).
    static func launch(environment: [String: String] = [:], dataDir: String? = nil) throws -> CrmdProcess {
        let crmd = try CrmdProcess(plugins: ["contacts", "sales", "b2b"],
                                   arguments: ["--socket-mode", "0666", "--trusted-proxy-uid", "\(getuid())"],
                                   environment: environment, dataDir: dataDir)
        chmod(crmd.dir, 0o755)
        return crmd
    }

    /// A world over a running crmd whose catalog exists already (a restarted one).
    static func attach(_ crmd: CrmdProcess, eur: Crm_B2b_V1_PriceBook, widget: Crm_B2b_V1_Product,
                       support: Crm_B2b_V1_Product) throws -> B2BWorld {
        let connection = try crmd.connect()
        func client(_ user: String) -> B2BClient { B2BClient(connection: connection, metadata: AccessSupport.actingAs(user)) }
        return B2BWorld(crmd: crmd, connection: connection, admin: B2BClient(connection: connection), ann: client("ann"),
                        bob: client("bob"), meg: client("meg"), rita: client("rita"), sales: SalesClient(connection: connection),
                        contacts: ContactsClient(connection: connection), eur: eur, widget: widget, support: support)
    }

    func sales(as user: String) -> SalesClient { SalesClient(connection: connection, metadata: AccessSupport.actingAs(user)) }

    /// An open opportunity owned by `owner`, with a person at an organization.
    func opportunity(owner: String = "ann", organization name: String = "Acme Industries") async throws
        -> (opportunity: SOpportunity, person: CPerson, organization: COrganization) {
        let organization: COrganization = try await contacts.call("CreateOrganization",
            Crm_Contacts_V1_CreateOrganizationRequest.with { $0.organization.name = name; $0.organization.owner = owner })
        let person = try await contacts.createPerson("Grace", "Hopper", organization: organization.id, owner: owner)
        let opportunity = try await sales.createOpportunity("\(name) fleet", amount: 100_000, owner: owner,
                                                            person: person.id, organization: organization.id)
        return (opportunity, person, organization)
    }
}

/// The status and message of a call that must fail.
func failure(_ body: () async throws -> some Any) async -> (Crm_Rpc_V1_StatusCode, String)? {
    do {
        _ = try await body()
        return nil
    } catch let error as RPCError {
        return (error.code, error.message)
    } catch {
        return (.unknown, "\(error)")
    }
}

/// Every figure shown adds up: line total = net + tax, net = amount −
/// discount, each section the sum of its lines, the quote the sum of its
/// sections, and the tax lines the quote's tax. Returns the problems.
func inconsistencies(_ content: BContent, _ totals: Crm_B2b_V1_Totals, _ taxes: [Crm_B2b_V1_TaxLine]) -> [String] {
    var problems: [String] = []
    var quote = (amount: Int64(0), discount: Int64(0), net: Int64(0), tax: Int64(0), total: Int64(0))
    for (s, section) in content.sections.enumerated() {
        var sum = (amount: Int64(0), discount: Int64(0), net: Int64(0), tax: Int64(0), total: Int64(0))
        for (l, line) in section.lines.enumerated() {
            if line.netMinor != line.amountMinor - line.discountMinor { problems.append("line \(s).\(l): net") }
            if line.totalMinor != line.netMinor + line.taxMinor { problems.append("line \(s).\(l): total") }
            if line.discountMinor < 0 || line.netMinor < 0 || line.taxMinor < 0 { problems.append("line \(s).\(l): negative") }
            sum.amount += line.amountMinor; sum.discount += line.discountMinor; sum.net += line.netMinor
            sum.tax += line.taxMinor; sum.total += line.totalMinor
        }
        let t = section.totals
        if (t.amountMinor, t.discountMinor, t.netMinor, t.taxMinor, t.totalMinor) != sum {
            problems.append("section \(s): \(t) is not the sum of its lines \(sum)")
        }
        quote.amount += t.amountMinor; quote.discount += t.discountMinor; quote.net += t.netMinor
        quote.tax += t.taxMinor; quote.total += t.totalMinor
    }
    if (totals.amountMinor, totals.discountMinor, totals.netMinor, totals.taxMinor, totals.totalMinor) != quote {
        problems.append("quote \(totals) is not the sum of its sections \(quote)")
    }
    if taxes.reduce(0, { $0 + $1.taxMinor }) != totals.taxMinor { problems.append("tax lines do not add up to the tax") }
    if taxes.reduce(0, { $0 + $1.baseMinor }) != totals.netMinor { problems.append("tax bases do not add up to the net") }
    return problems
}
