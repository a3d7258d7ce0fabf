module tb;
  reg clk = 0;
  reg reset, en;
  wire [3:0] q_ref, q_top;
  integer seed = 606, i, samples = 0, mismatches = 0;

  RefModule ref_i (.clk(clk), .reset(reset), .en(en), .q(q_ref));
  TopModule top_i (.clk(clk), .reset(reset), .en(en), .q(q_top));

  always #5 clk = ~clk;

  initial begin
    reset = 1;
    en = 0;
    repeat (2) @(negedge clk);
    for (i = 0; i < 300; i = i + 1) begin
      if (i < 40) begin
        reset = 0;
        en = i != 7;
      end else begin
        reset = ($random(seed) & 31) == 0;
        en = ($random(seed) & 3) != 0;
      end
      @(negedge clk);
      samples = samples + 1;
      if (q_ref !== q_top) mismatches = mismatches + 1;
    end
    $display("Mismatches: %0d in %0d samples", mismatches, samples);
    $finish;
  end

  initial begin
    #100000;
    $display("TIMEOUT");
    $finish;
  end
endmodule
