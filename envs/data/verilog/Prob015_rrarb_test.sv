module tb;
  reg clk = 0;
  reg reset;
  reg [1:0] req;
  wire [1:0] gnt_ref, gnt_top;
  integer seed = 1515, i, samples = 0, mismatches = 0;

  RefModule ref_i (.clk(clk), .reset(reset), .req(req), .gnt(gnt_ref));
  TopModule top_i (.clk(clk), .reset(reset), .req(req), .gnt(gnt_top));

  always #5 clk = ~clk;

  initial begin
    reset = 1;
    req = 0;
    repeat (2) @(negedge clk);
    for (i = 0; i < 300; i = i + 1) begin
      reset = ($random(seed) & 31) == 0;
      req = i < 6 ? 2'b11 : $random(seed);
      @(negedge clk);
      samples = samples + 1;
      if (gnt_ref !== gnt_top) mismatches = mismatches + 1;
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
