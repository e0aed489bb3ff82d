// Answers to the control protocol's requests (docs/control-protocol.md), on the control
// server's thread. Commands for the state machine go through `submit`; everything else is
// answered here at once.

import ShaolinCore

extension ControlServer {
    func handleLine(_ c: ControlConnection, _ line: UnsafeBufferPointer<UInt8>, now: Int64) {
        let request: ControlRequest
        switch ControlRequest.decode(line) {
        case .failure(let e):
            c.queue(ControlResponse.error(id: e.id, e.error))
            if c.isTCP && !c.authenticated {
                // Garbage before authentication ends the session (and counts as a failure).
                limiter.failed(c.address, now: now)
                c.closeAfterFlush = true
            }
            return
        case .success(let r): request = r
        }
        if case .auth(let nonce, let mac) = request.operation {
            authenticate(c, request, nonce: nonce, mac: mac, now: now)
            return
        }
        guard c.authenticated else {
            c.queue(ControlResponse.error(id: request.id, ControlError(.authRequired, "authenticate first: send {\"op\":\"auth\",\"client_nonce\":…,\"mac\":…} (see docs/control-protocol.md)")))
            limiter.failed(c.address, now: now)
            c.closeAfterFlush = true
            return
        }
        switch request.operation {
        case .auth: break
        case .ping:
            c.queue(ControlResponse.ok(id: request.id, .object([("pong", .bool(true)), ("node", .string(nodeName))])))
        case .status:
            c.queue(ControlResponse.ok(id: request.id, StatusJSON.value(slow.snapshot())))
        case .switchover: submit(c, request, .switchover, now: now)
        case .standby: submit(c, request, .standby, now: now)
        case .maintenance(let on): submit(c, request, .maintenance(on), now: now)
        case .fenceConfirm(let confirmed):
            guard confirmed else {
                c.queue(ControlResponse.error(id: request.id, ControlError(.confirmationRequired,
                    "fence-confirm makes this node take over without fencing the peer \(slow.peerName): confirm only after checking that \(slow.peerName) is powered off, then resend with \"confirm\": true")))
                return
            }
            submit(c, request, .fenceConfirm, now: now)
        case .reload(let dryRun):
            switch reload(dryRun: dryRun) {
            case .success(let v): c.queue(ControlResponse.ok(id: request.id, v))
            case .failure(let e): c.queue(ControlResponse.error(id: request.id, e))
            }
        case .log(let lines, let since):
            let (events, last) = log.ring.tail(lines, since: since)
            let items: [JSONValue] = events.map { e in
                .object([("seq", .int(Int64(e.sequence))), ("time", .int(e.wallSeconds)), ("mono_ms", .int(e.monotonicMs)),
                         ("priority", .int(Int64(e.priority))), ("level", .string(EventLog.Priority(rawValue: e.priority)?.label ?? "?")),
                         ("event", .string(e.event)), ("message", .string(e.message))])
            }
            c.queue(ControlResponse.ok(id: request.id, .object([("last", .int(Int64(last))), ("events", .array(items))])))
        case .rule(let action, let name):
            c.queue(rule(request, action, name))
        case .resetLateness:
            let (judged, wakeup) = slow.resetLateness()
            log.write(.info, "control: loop lateness histograms reset (before: \(judged.summary.count) deadlines, judged p99.9 \(judged.summary.p999) µs, wake-up p99.9 \(wakeup.summary.p999) µs)",
                      event: "LATENESS_RESET")
            c.queue(ControlResponse.ok(id: request.id, .object([("reset", .bool(true)), ("loop_lateness_us", judged.json), ("loop_wakeup_us", wakeup.json)])))
        }
    }

    func authenticate(_ c: ControlConnection, _ request: ControlRequest, nonce: [UInt8], mac: [UInt8], now: Int64) {
        guard c.isTCP else {
            c.queue(ControlResponse.ok(id: request.id, .object([("authenticated", .bool(true)), ("method", .string("peercred"))])))
            return
        }
        guard !c.authenticated else {
            c.queue(ControlResponse.error(id: request.id, ControlError(.badRequest, "already authenticated")))
            return
        }
        guard let key else { return }
        let expected = ControlAuthProof.client(key: key, challenge: c.challenge, clientNonce: nonce)
        if ControlAuthProof.equal(expected, mac) {
            c.authenticated = true
            limiter.succeeded(c.address)
            log.write(.info, "control: TCP client \(c.address) authenticated", event: "CONTROL_AUTH_OK")
            let proof = ControlAuthProof.server(key: key, challenge: c.challenge, clientNonce: nonce)
            c.queue(ControlResponse.ok(id: request.id, .object([("authenticated", .bool(true)), ("server_mac", .string(Hex.encode(proof)))])))
        } else {
            limiter.failed(c.address, now: now)
            log.write(.warning, "control: authentication failed from \(c.address)", event: "CONTROL_AUTH_FAILED")
            c.queue(ControlResponse.error(id: request.id, ControlError(.authFailed, "authentication failed (wrong cluster key?)")))
            c.closeAfterFlush = true
        }
    }

    func rule(_ request: ControlRequest, _ action: ControlOperation.RuleAction, _ name: String) -> String {
        guard let aac = slow.aac else {
            return ControlResponse.error(id: request.id, .noSuchRule(name, known: []))
        }
        let result: Result<String, ControlError>
        switch action {
        case .enable: result = aac.setEnabled(name, true)
        case .disable: result = aac.setEnabled(name, false)
        case .restart: result = aac.restart(name)
        case .start: result = aac.start(name)
        case .stop: result = aac.stop(name)
        case .resetStatistics: result = aac.resetStatistics(name)
        }
        switch result {
        case .success(let m):
            log.write(.notice, "control: rule \(name) \(action.rawValue): \(m)", event: "CONTROL_RULE")
            return ControlResponse.ok(id: request.id, .object([("rule", .string(name)), ("action", .string(action.rawValue)), ("message", .string(m))]))
        case .failure(let e):
            return ControlResponse.error(id: request.id, e)
        }
    }

    /// Validates the configuration file and applies what can change live.
    func reload(dryRun: Bool) -> Result<JSONValue, ControlError> {
        guard let path = configPath, let current = configuration else {
            return .failure(ControlError(.unavailable, "this engine was started without a configuration file"))
        }
        let (loaded, errors, warnings) = Engine.loadConfiguration(path)
        guard let new = loaded else {
            log.write(.error, "control: reload rejected: \(errors.count) error(s) in \(path); nothing changed", event: "CONFIG_RELOAD_REJECTED")
            return .failure(ControlError(.invalidConfig, "\(path) has \(errors.count) error(s); nothing was changed", details: errors))
        }
        var plan = ReloadPlan.compare(current, new)
        plan.warnings = warnings
        if let aac = slow.aac {
            plan.live += aac.reload(new, dryRun: dryRun)
        }
        if dryRun { return .success(plan.json(applied: false)) }
        var next = current
        if plan.logLevelChanged {
            log.setLevel(new.log.level.rawValue)
            next.log.level = new.log.level
        }
        if plan.groupChanged {
            group = new.control.group
            next.control.group = new.control.group
            resolveGroup()
            applySocketGroup()
        }
        if plan.fencingChanged {
            slow.setFencing(Engine.fenceSequence(new, log: log))
            next.fencing = new.fencing
        }
        configuration = next
        log.write(.notice, "configuration reloaded from \(path): \(plan.live.isEmpty ? "no live change" : plan.live.joined(separator: "; "))"
                  + (plan.restartRequired.isEmpty ? "" : "; needs a restart to change: \(plan.restartRequired.joined(separator: ", "))"),
                  event: "CONFIG_RELOAD")
        return .success(plan.json(applied: true))
    }
}
