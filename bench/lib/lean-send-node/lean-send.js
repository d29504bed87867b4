/**
 * bench:scale's yardstick: the least a Node-RED node can do to send its mailbox's mail, with the
 * lean axios client of the bench's settings file (`bench.leanPostAs`, one agent of as many sockets
 * as the package's shared pool). One node type, so its code is compiled once for all 1,000 nodes,
 * as the email task's is (a function node per mailbox compiles its own script on its first message).
 */
module.exports = function (RED) {
  function LeanSendNode(config) {
    RED.nodes.createNode(this, config);
    const bench = this.context().global.get('bench');
    this.on('input', (msg, send, done) => {
      bench.leanPostAs(config.sender, config.body).then(
        () => {
          send(msg);
          done();
        },
        (err) => {
          msg.error = { code: 'lean', message: String((err && err.message) || err) };
          send(msg);
          done();
        },
      );
    });
  }
  RED.nodes.registerType('bench-lean-send', LeanSendNode);
};
