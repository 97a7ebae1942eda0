import CRMPluginKit
import Foundation
import SalesContract

/// A stage with the pipeline it belongs to.
struct StageRow {
    var stage: Stage
    var pipelineID: Int64
}

/// Pipelines and their ordered open stages. Migration 2 seeds the default
/// pipeline "Sales".
enum PipelineMethods {
    static func register(on def: PluginDefinition) {
        def.unary(Sales.service + "CreatePipeline", create)
        def.unary(Sales.service + "GetPipeline", get)
        def.unary(Sales.service + "ListPipelines", list)
    }

    static func create(_ ctx: CallContext, _ req: Crm_Sales_V1_CreatePipelineRequest) throws -> Pipeline {
        let db = try ctx.database
        let (previous, claim) = try Sales.idempotency.check(db, method: "CreatePipeline", req, key: \.idempotencyKey)
        if let id = previous {
            return try require(db, id)
        }
        var name = req.name
        try Check.text(&name, "name", max: 100)
        try Validate.required(name, "name")
        guard !req.stages.isEmpty else { throw PluginError.invalidArgument("stages: at least one stage is required") }
        guard req.stages.count <= 50 else { throw PluginError.invalidArgument("stages has more than 50 entries") }
        var stages: [Stage] = []
        var keys = Set<String>()
        for (i, given) in req.stages.enumerated() {
            var stage = Stage()
            stage.name = given.name
            try Check.text(&stage.name, "stages[\(i)].name", max: 100)
            try Validate.required(stage.name, "stages[\(i)].name")
            guard keys.insert(Normalize.name(stage.name)).inserted else {
                throw PluginError.invalidArgument("stages[\(i)].name repeats \"\(stage.name)\"")
            }
            guard (0...100).contains(given.probability) else {
                throw PluginError.invalidArgument("stages[\(i)].probability must be 0 to 100, not \(given.probability)")
            }
            stage.probability = given.probability
            stage.position = Int32(i + 1)
            stages.append(stage)
        }
        let key = Normalize.name(name)
        if let existing = try db.query("SELECT id FROM sales_pipelines WHERE name_key = ?", [.text(key)]).first?.first?.int {
            throw PluginError.alreadyExists("name: pipeline \(existing) is already called \"\(name)\"")
        }
        let id = try db.execute("INSERT INTO sales_pipelines (name, name_key, is_default) VALUES (?, ?, 0)",
                                [.text(name), .text(key)]).lastInsertID
        let insert = try db.prepare("INSERT INTO sales_stages (pipeline_id, name, probability, position) VALUES (?, ?, ?, ?)")
        defer { insert.finalize() }
        for stage in stages {
            try insert.reset()
            try insert.bind([.integer(id), .text(stage.name), .integer(Int64(stage.probability)), .integer(Int64(stage.position))])
            while try insert.step() {}
        }
        if req.makeDefault {
            // The default that stops being one changed too: its own audit entry.
            for row in try db.query("SELECT id FROM sales_pipelines WHERE is_default = 1 AND id <> ?", [.integer(id)]) {
                var old = try require(db, row.int(0))
                let before = old
                old.isDefault = false
                try SalesAudit.pipeline(ctx, "update", old: before, new: old)
            }
            try db.execute("UPDATE sales_pipelines SET is_default = CASE WHEN id = ? THEN 1 ELSE 0 END", [.integer(id)])
        }
        try Sales.idempotency.record(db, claim, resultID: id)
        let pipeline = try require(db, id)
        try SalesAudit.pipeline(ctx, "create", old: nil, new: pipeline)
        return pipeline
    }

    static func get(_ ctx: CallContext, _ req: Crm_Sales_V1_GetPipelineRequest) throws -> Pipeline {
        try require(try ctx.database, req.id)
    }

    static func list(_ ctx: CallContext, _ req: Crm_Sales_V1_ListPipelinesRequest) throws -> Crm_Sales_V1_ListPipelinesResponse {
        let db = try ctx.database
        let paging = try Paging(pageSize: req.pageSize, pageToken: req.pageToken, keyCount: 1)
        var filter = SQLFilter()
        if let after = paging.after { filter.add("id > ?", after[0]) }
        let page = try fetchPage(db, "SELECT id, name, is_default FROM sales_pipelines \(filter.clause) ORDER BY id LIMIT ?",
                                 filter.parameters, paging, decode: decodePipeline, key: { [$0[0]] })
        var pipelines = page.rows
        if let first = pipelines.first?.id, let last = pipelines.last?.id {
            // The page's stages in one query.
            var byPipeline: [Int64: [Stage]] = [:]
            for row in try db.query("""
                SELECT pipeline_id, id, name, probability, position FROM sales_stages
                WHERE pipeline_id BETWEEN ? AND ? ORDER BY pipeline_id, position
                """, [.integer(first), .integer(last)]) {
                byPipeline[row.int(0), default: []].append(decodeStage(Array(row.dropFirst())))
            }
            for i in pipelines.indices { pipelines[i].stages = byPipeline[pipelines[i].id] ?? [] }
        }
        var response = Crm_Sales_V1_ListPipelinesResponse()
        response.pipelines = pipelines
        response.nextPageToken = page.nextToken
        return response
    }

    // MARK: - Lookups for the other methods

    /// The pipeline `id`, or the default one for 0; NOT_FOUND naming `field`.
    static func require(_ db: Database, _ id: Int64, field: String = "id") throws -> Pipeline {
        let rows: [[SQLValue]]
        if id == 0 {
            rows = try db.query("SELECT id, name, is_default FROM sales_pipelines WHERE is_default = 1 ORDER BY id LIMIT 1")
        } else {
            guard id > 0 else { throw PluginError.invalidArgument("\(field) must be a positive id (or 0 for the default pipeline), not \(id)") }
            rows = try db.query("SELECT id, name, is_default FROM sales_pipelines WHERE id = ?", [.integer(id)])
        }
        guard let row = rows.first else {
            throw PluginError.notFound(id == 0 ? "\(field): there is no default pipeline" : "\(field): pipeline \(id) does not exist")
        }
        var pipeline = decodePipeline(row)
        pipeline.stages = try db.query(
            "SELECT id, name, probability, position FROM sales_stages WHERE pipeline_id = ? ORDER BY position",
            [.integer(pipeline.id)]).map(decodeStage)
        return pipeline
    }

    static func stage(_ db: Database, _ id: Int64) throws -> StageRow? {
        guard id > 0, let row = try db.query(
            "SELECT id, name, probability, position, pipeline_id FROM sales_stages WHERE id = ?", [.integer(id)]).first else {
            return nil
        }
        return StageRow(stage: decodeStage(row), pipelineID: row.int(4))
    }

    /// Stage `id` of `pipeline`: NOT_FOUND if there is no such stage,
    /// INVALID_ARGUMENT if it belongs to another pipeline.
    static func requireStage(_ db: Database, _ id: Int64, of pipeline: Pipeline, field: String) throws -> Stage {
        guard let row = try stage(db, id) else { throw PluginError.notFound("\(field): stage \(id) does not exist") }
        guard row.pipelineID == pipeline.id else {
            throw PluginError.invalidArgument(
                "\(field): stage \(id) belongs to pipeline \(row.pipelineID), not to pipeline \(pipeline.id) (\(pipeline.name))")
        }
        return row.stage
    }

    static func decodePipeline(_ row: [SQLValue]) -> Pipeline {
        var pipeline = Pipeline()
        pipeline.id = row.int(0)
        pipeline.name = row.text(1)
        pipeline.isDefault = row.int(2) != 0
        return pipeline
    }

    static func decodeStage(_ row: [SQLValue]) -> Stage {
        var stage = Stage()
        stage.id = row.int(0)
        stage.name = row.text(1)
        stage.probability = row.int32(2)
        stage.position = row.int32(3)
        return stage
    }
}
