module tb;
  reg clk = 0;
  reg reset, nickel, dime;
  wire vend_ref, vend_top;
  integer seed = 1414, i, r, samples = 0, mismatches = 0;

  RefModule ref_i (.clk(clk), .reset(reset), .nickel(nickel), .dime(dime), .vend(vend_ref));
  TopModule top_i (.clk(clk), .reset(reset), .nickel(nickel), .dime(dime), .vend(vend_top));

  always #5 clk = ~clk;

  initial begin
    reset = 1;
    nickel = 0;
    dime = 0;
    repeat (2) @(negedge clk);
    for (i = 0; i < 300; i = i + 1) begin
      r = $random(seed) & 15;
      reset = r == 0;
      nickel = r >= 6 && r <= 10;
      dime = r >= 10 && r <= 12;
      @(negedge clk);
      samples = samples + 1;
      if (vend_ref !== vend_top) mismatches = mismatches + 1;
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
