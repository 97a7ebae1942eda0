import B2BContract
import CRMPluginKit
import SalesContract

/// Deal pipelines: ordered open stages to signature, each naming the
/// scorecard criteria required to move past it. Each has a sales pipeline
/// of the same name and open stages, made in-process when it is created,
/// so a deal's opportunity moves through sales' stages in step with it.
/// Stored whole as one protobuf (stages and criteria are read together).
enum DealPipelines {
    static let schema = """
        CREATE TABLE b2b_deal_pipelines (
            id INTEGER PRIMARY KEY,
            name TEXT NOT NULL,
            sales_pipeline_id INTEGER NOT NULL,
            data BLOB NOT NULL,
            created_us INTEGER NOT NULL);
        """
    static let signed = "signed"
    static let lost = "lost"

    static func register(on def: PluginDefinition) {
        def.unary(B2B.service + "CreateDealPipeline", create)
        def.unary(B2B.service + "GetDealPipeline", get)
        def.unary(B2B.service + "ListDealPipelines", list)
    }

    /// MEDDICC, the qualification most B2B sales teams score.
    static let meddicc: [(String, String)] = [
        ("metrics", "Metrics"), ("economic_buyer", "Economic buyer"), ("decision_criteria", "Decision criteria"),
        ("decision_process", "Decision process"), ("paper_process", "Paper process"), ("identify_pain", "Identified pain"),
        ("champion", "Champion"), ("competition", "Competition"),
    ]
    static let defaultStages: [(String, String, Int32, [String])] = [
        ("qualification", "Qualification", 10, ["identify_pain"]),
        ("discovery", "Discovery", 25, ["metrics", "champion"]),
        ("proposal", "Proposal", 50, ["economic_buyer", "decision_criteria"]),
        ("negotiation", "Negotiation", 75, ["decision_process", "paper_process"]),
        ("contract_sent", "Contract sent", 90, []),
    ]

    static func create(_ ctx: CallContext, _ req: Crm_B2b_V1_CreateDealPipelineRequest) throws -> Crm_B2b_V1_DealPipeline {
        let db = try ctx.database
        let (previous, claim) = try B2B.idempotency.check(db, method: "CreateDealPipeline", req, key: \.idempotencyKey)
        if let id = previous, let pipeline = try load(db, id) { return pipeline }
        var pipeline = req.pipeline
        try validate(&pipeline)
        let sales: Crm_Sales_V1_Pipeline = try Links.call(ctx, "/crm.sales.v1.Sales/CreatePipeline",
                                                          Crm_Sales_V1_CreatePipelineRequest.with {
            $0.name = pipeline.name
            $0.stages = pipeline.stages.map { stage in .with { $0.name = stage.name; $0.probability = stage.probability } }
        })
        guard sales.stages.count == pipeline.stages.count else {
            throw PluginError(.internal, "sales made \(sales.stages.count) stages of \(pipeline.stages.count)")
        }
        for i in pipeline.stages.indices { pipeline.stages[i].salesStageID = sales.stages[i].id }
        pipeline.salesPipelineID = sales.id
        pipeline.createdUnixUs = UTCClock.nowMicros()
        var stored = pipeline
        stored.id = 0
        pipeline.id = try db.execute("""
            INSERT INTO b2b_deal_pipelines (name, sales_pipeline_id, data, created_us) VALUES (?, ?, ?, ?)
            """, [.text(pipeline.name), .integer(sales.id), .blob(try stored.serializedBytes()),
                  .integer(pipeline.createdUnixUs)]).lastInsertID
        try ctx.audit(AuditEntry(entity: "b2b.deal_pipeline", recordID: String(pipeline.id), action: "create", changes: [
            FieldChange("name", old: nil, new: pipeline.name),
            FieldChange("stages", old: nil, new: pipeline.stages.map(\.key).joined(separator: ", ")),
            FieldChange("criteria", old: nil, new: pipeline.criteria.map(\.key).joined(separator: ", ")),
        ]))
        try B2B.idempotency.record(db, claim, resultID: pipeline.id)
        return pipeline
    }

    static func validate(_ p: inout Crm_B2b_V1_DealPipeline) throws {
        try Check.text(&p.name, "pipeline.name", max: 200, required: true)
        if p.criteria.isEmpty {
            p.criteria = meddicc.map { key, name in .with { $0.key = key; $0.name = name } }
        }
        if p.stages.isEmpty {
            p.stages = defaultStages.map { key, name, probability, required in
                .with { $0.key = key; $0.name = name; $0.probability = probability; $0.requiredCriteria = required }
            }
        }
        guard p.criteria.count <= 30 else { throw PluginError.invalidArgument("pipeline.criteria: at most 30") }
        guard p.stages.count <= 20 else { throw PluginError.invalidArgument("pipeline.stages: at most 20") }
        var keys = Set<String>()
        for i in p.criteria.indices {
            let field = "pipeline.criteria[\(i)]"
            try checkKey(p.criteria[i].key, "\(field).key")
            guard keys.insert(p.criteria[i].key).inserted else {
                throw PluginError.invalidArgument("\(field).key \"\(p.criteria[i].key)\" is repeated")
            }
            try Check.text(&p.criteria[i].name, "\(field).name", max: 100, required: true)
            try Check.text(&p.criteria[i].description_p, "\(field).description", max: 2000)
        }
        var stageKeys = Set<String>()
        for i in p.stages.indices {
            let field = "pipeline.stages[\(i)]"
            let key = p.stages[i].key
            try checkKey(key, "\(field).key")
            guard key != signed && key != lost else {
                throw PluginError.invalidArgument("\(field).key \"\(key)\" is an outcome every pipeline has, not a stage")
            }
            guard stageKeys.insert(key).inserted else { throw PluginError.invalidArgument("\(field).key \"\(key)\" is repeated") }
            try Check.text(&p.stages[i].name, "\(field).name", max: 100, required: true)
            guard (0...100).contains(p.stages[i].probability) else {
                throw PluginError.invalidArgument("\(field).probability must be 0 to 100, not \(p.stages[i].probability)")
            }
            var seen = Set<String>()
            for criterion in p.stages[i].requiredCriteria {
                guard keys.contains(criterion) else {
                    throw PluginError.invalidArgument("\(field).required_criteria: \"\(criterion)\" is not a criterion of the pipeline")
                }
                guard seen.insert(criterion).inserted else {
                    throw PluginError.invalidArgument("\(field).required_criteria: \"\(criterion)\" is repeated")
                }
            }
            p.stages[i].salesStageID = 0
        }
    }

    static func checkKey(_ key: String, _ field: String) throws {
        guard (1...40).contains(key.utf8.count),
              key.utf8.allSatisfy({ (0x61...0x7A).contains($0) || (0x30...0x39).contains($0) || $0 == 0x5F }) else {
            throw PluginError.invalidArgument("\(field) \"\(key)\" must be 1 to 40 of a-z 0-9 _")
        }
    }

    static func load(_ db: Database, _ id: Int64) throws -> Crm_B2b_V1_DealPipeline? {
        guard id > 0, let row = try db.query("SELECT data, id FROM b2b_deal_pipelines WHERE id = ?", [.integer(id)]).first else {
            return nil
        }
        var pipeline = try Crm_B2b_V1_DealPipeline(serializedBytes: row.blob(0))
        pipeline.id = row.int(1)
        return pipeline
    }

    static func require(_ db: Database, _ id: Int64, field: String) throws -> Crm_B2b_V1_DealPipeline {
        try Validate.positiveID(id, field)
        guard let pipeline = try load(db, id) else { throw PluginError.notFound("\(field): deal pipeline \(id) does not exist") }
        return pipeline
    }

    static func get(_ ctx: CallContext, _ req: Crm_B2b_V1_GetDealPipelineRequest) throws -> Crm_B2b_V1_DealPipeline {
        try require(try ctx.database, req.id, field: "id")
    }

    static func list(_ ctx: CallContext, _ req: Crm_B2b_V1_ListDealPipelinesRequest) throws -> Crm_B2b_V1_ListDealPipelinesResponse {
        let paging = try Paging(pageSize: req.pageSize, pageToken: req.pageToken, keyCount: 1)
        var filter = SQLFilter()
        if let after = paging.after { filter.add("id > ?", after[0]) }
        let page = try fetchPage(try ctx.database, "SELECT data, id FROM b2b_deal_pipelines \(filter.clause) ORDER BY id LIMIT ?",
                                 filter.parameters, paging, decode: { row -> Crm_B2b_V1_DealPipeline in
            var p = try Crm_B2b_V1_DealPipeline(serializedBytes: row.blob(0))
            p.id = row.int(1)
            return p
        }, key: { [$0[1]] })
        return .with {
            $0.pipelines = page.rows
            $0.nextPageToken = page.nextToken
        }
    }
}

extension Crm_B2b_V1_DealPipeline {
    /// The position of a stage key: open stages 0..<count, signed = count; nil for lost or unknown.
    func position(of key: String) -> Int? {
        if key == DealPipelines.signed { return stages.count }
        return stages.firstIndex { $0.key == key }
    }

    func stageKey(salesStage id: Int64) -> String? { stages.first { $0.salesStageID == id }?.key }

    func criterionName(_ key: String) -> String { criteria.first { $0.key == key }?.name ?? key }
}
