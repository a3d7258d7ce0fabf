module tb;
  reg clk = 0;
  reg reset, x;
  wire z_ref, z_top;
  reg [15:0] pattern;
  integer seed = 1212, i, samples = 0, mismatches = 0;

  RefModule ref_i (.clk(clk), .reset(reset), .x(x), .z(z_ref));
  TopModule top_i (.clk(clk), .reset(reset), .x(x), .z(z_top));

  always #5 clk = ~clk;

  initial begin
    reset = 1;
    x = 0;
    pattern = 16'b1010_1101_0010_1101;
    repeat (2) @(negedge clk);
    for (i = 0; i < 300; i = i + 1) begin
      reset = i >= 16 && ($random(seed) & 31) == 0;
      x = i < 16 ? pattern[15 - i] : $random(seed);
      @(negedge clk);
      samples = samples + 1;
      if (z_ref !== z_top) mismatches = mismatches + 1;
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
