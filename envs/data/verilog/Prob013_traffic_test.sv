module tb;
  reg clk = 0;
  reg reset, en;
  wire red_ref, yellow_ref, green_ref, red_top, yellow_top, green_top;
  integer seed = 1313, i, samples = 0, mismatches = 0;

  RefModule ref_i (.clk(clk), .reset(reset), .en(en), .red(red_ref), .yellow(yellow_ref), .green(green_ref));
  TopModule top_i (.clk(clk), .reset(reset), .en(en), .red(red_top), .yellow(yellow_top), .green(green_top));

  always #5 clk = ~clk;

  initial begin
    reset = 1;
    en = 0;
    repeat (2) @(negedge clk);
    for (i = 0; i < 300; i = i + 1) begin
      reset = i >= 30 && ($random(seed) & 63) == 0;
      en = i < 30 || ($random(seed) & 3) != 0;
      @(negedge clk);
      samples = samples + 1;
      if ({red_ref, yellow_ref, green_ref} !== {red_top, yellow_top, green_top}) mismatches = mismatches + 1;
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
